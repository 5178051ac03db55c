"""Equity per named account and per engine instance, each with its drawdown (issue 15).

Accounts: every `SAMPLE_S` seconds the sampler asks each declared account's venue for its equity (wallet
balance + unrealized PnL, through the accounts service's cached reader, asked afresh) and appends it to
`<ASTER_RUN_DIR>/equity.sqlite`, so the curve survives a dashboard restart. The file stays small over
months: samples older than a day are thinned to the lowest and highest of each 5-minute bucket, older than
a week to each hour, older than 90 days to each day (`curves.TIERS`), and at most `MAX_ROWS` per account.
The dashboard is the file's only writer; each sample is one committed transaction (WAL).

The default scanner's state file has its own curve of the same measure (its account's total margin balance,
one point per scan, the last few thousand): its points older than the first stored sample come before
them, so an account shows the history of a bot that ran before this dashboard sampled it.

Engines: the curve of an instance is the cumulative realized net PnL (after fees and funding) of its
closed trades in the trade history, so it needs no store of its own and is exact at every exit.
"""
from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from mraster.aio import cancel_and_wait
from mraster.logs import get_logger
from mraster.storage.atomic import quarantine

from dashboard.services import curves
from dashboard.services.curves import Point

log = get_logger("dashboard.equity")
DB_FILE = "equity.sqlite"
SAMPLE_S = 60.0
COMPACT_EVERY_S = 3600.0
MAX_ROWS = 20_000            # per account; the tiers keep far fewer over a decade of minute samples
CHART_POINTS = 2000          # what one answer carries at most (thinned the same way)

_DDL = """CREATE TABLE IF NOT EXISTS equity (
    account  TEXT NOT NULL,
    time_ms  INTEGER NOT NULL,
    equity   REAL NOT NULL,      -- wallet balance + unrealized PnL (USDT)
    wallet   REAL,
    upnl     REAL,
    PRIMARY KEY (account, time_ms)
) WITHOUT ROWID"""


class EquityStore:
    """The account equity time series in one SQLite file; an unreadable file is moved aside (kept for a
    person to look at) and a new one started, so a bad disk block never stops the dashboard."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.problem = ""
        self.conn = self._open()

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            moved = quarantine(self.path)
            for side in ("-wal", "-shm"):          # never replayed into the new file
                self.path.with_name(self.path.name + side).unlink(missing_ok=True)
            self.problem = f"{self.path.name} was unreadable ({exc}) and was kept aside as {moved.name}"
            log.error("equity.file_corrupt", self.problem, activity=True)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=5.0)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_DDL)
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        self.conn.close()

    def add(self, account: str, time_ms: int, equity: float, wallet: float | None = None,
            upnl: float | None = None) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO equity(account, time_ms, equity, wallet, upnl) "
                              "VALUES (?,?,?,?,?)", (account, int(time_ms), float(equity), wallet, upnl))

    def add_many(self, account: str, points: Iterable[Point]) -> None:
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO equity(account, time_ms, equity) VALUES (?,?,?)",
                                  [(account, int(t), float(v)) for t, v in points])

    def points(self, account: str) -> list[Point]:
        return [(int(t), float(v)) for t, v in self.conn.execute(
            "SELECT time_ms, equity FROM equity WHERE account=? ORDER BY time_ms", (account,))]

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per account: how many samples, and the newest one."""
        out: dict[str, dict[str, Any]] = {}
        for account, count, last_ms in self.conn.execute(
                "SELECT account, COUNT(*), MAX(time_ms) FROM equity GROUP BY account"):
            last = self.conn.execute("SELECT equity FROM equity WHERE account=? AND time_ms=?",
                                     (account, last_ms)).fetchone()
            out[account] = {"samples": count, "last_ms": last_ms, "last": last[0] if last else None}
        return out

    def compact(self, now_ms: int, max_rows: int = MAX_ROWS) -> int:
        """Thin the old samples by the tiers and cap each account; returns how many rows went."""
        young = now_ms - curves.TIERS[0][0]
        gone = 0
        accounts = [a for (a,) in self.conn.execute("SELECT DISTINCT account FROM equity")]
        for account in accounts:
            old = [(int(t), float(v)) for t, v in self.conn.execute(
                "SELECT time_ms, equity FROM equity WHERE account=? AND time_ms<=? ORDER BY time_ms",
                (account, young))]
            keep = {t for t, _ in curves.retained(old, now_ms)}
            drop = [(account, t) for t, _ in old if t not in keep]
            with self.conn:
                self.conn.executemany("DELETE FROM equity WHERE account=? AND time_ms=?", drop)
                cur = self.conn.execute(
                    "DELETE FROM equity WHERE account=? AND time_ms IN (SELECT time_ms FROM equity WHERE account=? "
                    "ORDER BY time_ms DESC LIMIT -1 OFFSET ?)", (account, account, max_rows))
            gone += len(drop) + max(0, cur.rowcount)
        return gone

    def count(self, account: str) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM equity WHERE account=?", (account,)).fetchone()[0])


Reading = Callable[[], Awaitable[dict[str, dict[str, Any]]]]


class EquitySampler:
    """Samples every account's venue equity into the store every `interval` seconds (the first at once)."""

    def __init__(self, store: EquityStore, read: Reading, interval: float = SAMPLE_S,
                 clock: Callable[[], float] = time.time, compact_every: float = COMPACT_EVERY_S):
        self.store, self._read, self.interval = store, read, interval
        self._clock = clock
        self.compact_every = compact_every
        self._compacted_at = -1e18
        self._task: asyncio.Task[None] | None = None
        self.errors: dict[str, str] = {}         # account -> why its last sample was not taken

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self.store.close()

    async def _loop(self) -> None:
        while True:
            try:
                await self.sample()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the dashboard keeps working; the reason is on the page
                self.errors["*"] = f"{type(exc).__name__}: {exc}"[:300]
            await asyncio.sleep(self.interval)

    async def sample(self) -> dict[str, float]:
        """One sample per account whose venue answered (timed when the venue answered); returns them."""
        answers = await self._read()
        now = self._clock()
        taken: dict[str, float] = {}
        self.errors.pop("*", None)
        for account, answer in answers.items():
            data, error, age = answer.get("data"), answer.get("error") or "", answer.get("age_s")
            if not data or error or age is None or age > max(2 * self.interval, 30.0):
                self.errors[account] = error or "no fresh answer from the venue"
                continue
            equity = float(data["wallet"]) + float(data["upnl"])
            self.store.add(account, int((now - age) * 1000), equity, float(data["wallet"]), float(data["upnl"]))
            self.errors.pop(account, None)
            taken[account] = equity
        if now - self._compacted_at >= self.compact_every:
            self._compacted_at = now
            self.store.compact(int(now * 1000))
        return taken


class EquityService:
    """What the router answers: the choices, an account's curve, an engine's curve."""

    def __init__(self, store: EquityStore, sampler: EquitySampler | None, rows: Callable[[], list[dict[str, Any]]],
                 accounts: Callable[[], list[str]], engines: Callable[[], list[dict[str, Any]]],
                 earlier: Callable[[], tuple[str, list[Any]]] | None = None):
        self.store, self.sampler = store, sampler
        self._rows, self._accounts, self._engines = rows, accounts, engines
        self._earlier = earlier or (lambda: ("", []))     # (account, the bot's own curve of it)

    def start(self) -> None:
        if self.sampler is not None:
            self.sampler.start()

    async def close(self) -> None:
        if self.sampler is not None:
            await self.sampler.close()
        else:
            self.store.close()

    def listing(self) -> dict[str, Any]:
        stored = self.store.summary()
        errors = self.sampler.errors if self.sampler else {}
        names = list(dict.fromkeys([*self._accounts(), *stored]))
        accounts = [{"name": n, **stored.get(n, {"samples": 0, "last_ms": None, "last": None}),
                     "problem": errors.get(n, "")} for n in names]
        counts: dict[str, int] = {}
        for r in self._rows():
            counts[r["engine"]] = counts.get(r["engine"], 0) + 1
        engines = {e["name"]: {**e, "trades": counts.get(e["name"], 0)} for e in self._engines()}
        for name, n in counts.items():
            engines.setdefault(name, {"name": name, "kind": "", "account": "", "trades": n})
        return {"accounts": accounts, "engines": list(engines.values()),
                "interval_s": self.sampler.interval if self.sampler else None, "problem": self.store.problem}

    def account_curve(self, name: str) -> dict[str, Any]:
        points = self.store.points(name)
        if not points and name not in self._accounts():
            raise KeyError(f"no account {name!r}")
        account, bot_curve = self._earlier()
        before: list[Point] = []
        if account == name:
            first = points[0][0] if points else None
            before = sorted((int(t), float(v)) for t, v in bot_curve if first is None or int(t) < first)
        errors = self.sampler.errors if self.sampler else {}
        return {**curve_answer("account", name, before + points, relative=True, unit="USDT equity",
                               problem=errors.get(name, "") or errors.get("*", "") or self.store.problem),
                "from_bot": len(before)}

    def engine_curve(self, name: str) -> dict[str, Any]:
        rows = [r for r in self._rows() if r["engine"] == name]
        if not rows and name not in {e["name"] for e in self._engines()}:
            raise KeyError(f"no engine instance {name!r}")
        return {**curve_answer("engine", name, curves.pnl_curve(rows), relative=False,
                               unit="USDT net PnL (cumulative)"), "trades": len(rows)}


def curve_answer(series: str, name: str, points: list[Point], *, relative: bool, unit: str,
                 problem: str = "") -> dict[str, Any]:
    """The answer of /api/equity: the (thinned) points, their drawdown, and the maximum drawdown of the
    whole curve (measured before thinning)."""
    shown = curves.fit(points, CHART_POINTS)
    return {"series": series, "name": name, "unit": unit, "relative": relative,
            "points": [[t, v] for t, v in shown],
            "drawdown": [[t, amount, pct] for t, amount, pct in curves.drawdowns(shown, relative)],
            "max_drawdown": curves.max_drawdown(points, relative), "samples": len(points),
            "first_ms": points[0][0] if points else None, "last": points[-1][1] if points else None,
            "last_ms": points[-1][0] if points else None, "problem": problem}
