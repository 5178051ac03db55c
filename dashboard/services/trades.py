"""The trade history: every closed trade, from every writer, with paging, filters and CSV.

Sources, merged by trade id (the first that knows a trade wins):
1. the journal (`trades` table, read only: the engines write it) - every trade a scanner or momentum
   instance closed, with the account and instance it was recorded under (journal schema 2);
2. the journal's delta-neutral legs (`engine_positions`, mraster/tradedb.py), one row per closed leg;
3. the default scanner's state file (`closed_trades`, the last ASTER_HISTORY_MAX) - when the journal is not there;
4. the dashboard's exit journal (dashboard/services/exits.py) - exits the bot has not reconciled yet.
Every row names its engine instance and account (`trade_owner`), so the engine and account filters split
the history the way the engines traded it. The journal is re-read only when another connection committed.
"""
from __future__ import annotations

import csv
import gc
import io
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from mraster.accounts import DEFAULT_ACCOUNT
from mraster.domain.ownership import DEFAULT_SCANNER, INSTANCE_RE, owner_of
from mraster.state import BotState
from mraster.state.model import Trade

from dashboard.services.views import trade_row

UNKNOWN = "unknown"     # a row that names no instance and whose orders name none either
NOT_FILLED = {"entry_rejected", "entry_not_filled"}
CSV_COLUMNS = ("trade_id", "engine", "account", "symbol", "side", "bucket", "qty", "entry_time", "entry_price",
               "exit_time", "exit_price", "exit_reason", "duration_s", "notional", "leverage", "stop_price",
               "take_profit_price", "realized_pnl", "fees", "funding", "net_pnl", "r_multiple", "adopted", "source")
MAX_LIMIT = 1000
FREEZE_ABOVE = 1000


@dataclass(frozen=True)
class TradeFilter:
    engine: str = ""
    account: str = ""
    symbol: str = ""
    side: str = ""
    reason: str = ""
    start_ms: int | None = None      # exit time from (inclusive)
    end_ms: int | None = None        # exit time up to (exclusive)

    def keep(self, row: dict[str, Any]) -> bool:
        t = row.get("exit_time_ms") or 0
        return ((not self.engine or row["engine"] == self.engine) and (not self.account or row["account"] == self.account)
                and (not self.symbol or row["symbol"] == self.symbol.upper())
                and (not self.side or row["side"] == self.side.upper())
                and (not self.reason or row["exit_reason"] == self.reason)
                and (self.start_ms is None or t >= self.start_ms) and (self.end_ms is None or t < self.end_ms))


class JournalReader:
    """Closed trades of a journal, read only, re-read only when another connection committed to it
    (`PRAGMA data_version` of one long-lived read-only connection) or the file was replaced."""

    def __init__(self, path: Path):
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._ino: int | None = None
        self._version: int | None = None
        self.trades: list[Owned] = []
        self.legs: list[dict[str, Any]] = []

    def _connect(self) -> sqlite3.Connection | None:
        try:
            ino = self.path.stat().st_ino
        except OSError:
            self.close()
            return None
        if self._conn is None or ino != self._ino:
            self.close()
            try:
                self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=2.0,
                                             check_same_thread=False)
            except sqlite3.Error:
                return None
            self._ino, self._version = ino, None
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn, self._version = None, None

    def read(self) -> tuple[int | None, list[Owned]]:
        """(a version that changes whenever the trades may have changed, the closed trades with their
        recorded account and instance); the closed delta-neutral legs are in `legs` afterwards."""
        conn = self._connect()
        if conn is None:
            self.trades, self.legs = [], []
            return None, self.trades
        try:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                self.trades = [t for t in map(_owned, _closed_rows(conn)) if t is not None]
                self.legs = _closed_legs(conn)
                self._version = version
        except sqlite3.Error:
            self.close()
            return None, self.trades
        return (self._ino or 0) * 1_000_003 + version, self.trades


Owned = tuple[Trade, str, str]        # a trade, the account and the instance its journal row names


def _closed_rows(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    try:
        return conn.execute("SELECT detail, account, instance FROM trades WHERE status='closed'").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such column" not in str(exc):
            raise
        # a schema-1 journal (the engine that migrates it has not run yet): all of it is main's scanner
        return [(d, DEFAULT_ACCOUNT, DEFAULT_SCANNER)
                for (d,) in conn.execute("SELECT detail FROM trades WHERE status='closed'").fetchall()]


def _owned(row: tuple[Any, ...]) -> Owned | None:
    try:
        return Trade.from_json(json.loads(row[0])), str(row[1] or ""), str(row[2] or "")
    except (ValueError, TypeError, KeyError):
        return None


def _closed_legs(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The closed legs of the delta-neutral operator's pairs (mraster/tradedb.py), if the file has them."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='engine_positions'").fetchone() is None:
        return []
    cur = conn.execute("SELECT * FROM engine_positions WHERE status='closed'")
    cols = [c[0] for c in cur.description]
    return [leg_row(dict(zip(cols, r))) for r in cur.fetchall()]


def _num(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def leg_row(p: dict[str, Any]) -> dict[str, Any]:
    """One closed delta-neutral leg as a history row (the leg is the trade: its own entry, exit and costs)."""
    qty, entry, exit_ = _num(p.get("quantity")), _num(p.get("entry_price")), _num(p.get("exit_price"))
    pnl, fees, funding = _num(p.get("realized_pnl")), _num(p.get("fees")), _num(p.get("funding"))
    reason = str(p.get("close_reason") or "")
    opened, closed = int(p.get("opened_ms") or 0), int(p.get("closed_ms") or 0)
    instance = str(p.get("instance") or "") or UNKNOWN
    return {"trade_id": f"{instance}:{p.get('pair_id')}:{p.get('leg')}", "symbol": p.get("symbol"),
            "side": p.get("leg"), "status": "closed", "qty": qty, "entry_qty": qty, "entry_price": entry,
            "entry_time_ms": opened, "stop_price": None, "take_profit_price": None, "bucket": "", "leverage": None,
            "notional": None if qty is None or entry is None else qty * entry, "adopted": ".adopted." in str(
                p.get("pair_id")), "exit_price": exit_, "exit_time_ms": closed, "exit_reason": reason.split(":")[0],
            "realized_pnl": pnl, "fees": fees, "funding": funding, "r_multiple": None,
            "net_pnl": None if pnl is None else pnl - (fees or 0.0) + (funding or 0.0), "exit_detail": reason,
            "risk_per_unit": None, "duration_s": round((closed - opened) / 1000, 1) if closed and opened else None,
            "engine": instance, "account": str(p.get("account") or DEFAULT_ACCOUNT), "source": "tradedb"}


def trade_owner(trade: Trade, recorded: str) -> str:
    """The engine instance a trade belongs to. The instance its row names, unless that is the default
    `scanner` every writer got before it said otherwise (momentum wrote its trades that way): then the one
    instance its client order ids name (mraster/domain/ownership.py), else the instance in its context."""
    if recorded and recorded != DEFAULT_SCANNER:
        return recorded
    owners = {o for o in map(owner_of, trade.client_ids.values()) if o is not None}
    if len(owners) == 1:
        return owners.pop()
    named = trade.context.get("instance") if isinstance(trade.context, dict) else None
    if isinstance(named, str) and INSTANCE_RE.match(named):
        return named
    return recorded or UNKNOWN


def history_row(trade: Trade, source: str, account: str = DEFAULT_ACCOUNT, instance: str = DEFAULT_SCANNER
                ) -> dict[str, Any]:
    row = trade_row(trade)
    row.update(engine=trade_owner(trade, instance), account=account or DEFAULT_ACCOUNT, source=source)
    return row


class TradeHistory:
    def __init__(self, journal_file: Path | None, read_state: Callable[[], BotState | None],
                 recorded: Callable[[], Iterable[Owned]]):
        self.journal_file = journal_file
        self._read_state = read_state
        self._recorded = recorded
        self._reader = JournalReader(journal_file) if journal_file is not None else None
        self._rows: list[dict[str, Any]] = []
        self._rows_key: tuple[Any, ...] | None = None
        self._totals: dict[str, Any] = {}
        self._totals_of: list[dict[str, Any]] | None = None

    def rows(self) -> list[dict[str, Any]]:
        """Every closed trade, newest exit first."""
        state = self._read_state()
        version, journal = self._reader.read() if self._reader is not None else (None, [])
        recorded = list(self._recorded())
        key = (version, id(state), state.updated_ms if state else 0, len(recorded))
        if key == self._rows_key:
            return self._rows
        seen: dict[str, dict[str, Any]] = {}
        from_state = [(t, DEFAULT_ACCOUNT, DEFAULT_SCANNER) for t in (state.closed_trades if state else [])]
        sources = [("bot", journal), ("bot", from_state), ("dashboard", recorded)]
        for source, trades in sources:
            for t, account, instance in trades:
                if t.trade_id in seen or t.exit_reason in NOT_FILLED or t.entry_price is None:
                    continue
                seen[t.trade_id] = history_row(t, source, account, instance)
        for leg in self._reader.legs if self._reader is not None else []:
            seen.setdefault(leg["trade_id"], leg)
        self._rows = sorted(seen.values(), key=lambda r: (r.get("exit_time_ms") or 0, r["trade_id"]), reverse=True)
        self._rows_key = key
        if len(self._rows) >= FREEZE_ABOVE:
            # tens of thousands of long-lived rows made every full collection of the cyclic GC stall the
            # event loop for ~0.5 s (every page waited); they hold no cycles, so the collector may skip them
            gc.freeze()
        return self._rows

    def page(self, flt: TradeFilter, offset: int = 0, limit: int = 50) -> dict[str, Any]:
        rows = [r for r in self.rows() if flt.keep(r)]
        nets = [r["net_pnl"] for r in rows if r["net_pnl"] is not None]
        return {"trades": rows[offset:offset + limit], "total": len(rows), "offset": offset, "limit": limit,
                "net_pnl": round(sum(nets), 8), "wins": sum(1 for n in nets if n > 0),
                "losses": sum(1 for n in nets if n < 0),
                "fees": round(sum(r["fees"] or 0 for r in rows), 8),
                "funding": round(sum(r["funding"] or 0 for r in rows), 8),
                "facets": self.facets()}

    def facets(self) -> dict[str, list[str]]:
        """The values each filter can take (for the page's selects)."""
        rows = self.rows()
        return {name: sorted({str(r[name]) for r in rows if r.get(name)})
                for name in ("engine", "account", "symbol", "side", "exit_reason")}

    def summary(self, limit: int) -> dict[str, Any]:
        """What /api/state has always sent under `trades` (the newest `limit`), from the merged history;
        the totals are computed once per change of the history (every page polls this)."""
        rows = self.rows()
        if self._totals_of is not rows:
            nets = [r["net_pnl"] for r in rows if r["net_pnl"] is not None]
            self._totals = {"count": len(rows), "net_pnl": round(sum(nets), 8),
                            "wins": sum(1 for n in nets if n > 0), "losses": sum(1 for n in nets if n < 0)}
            self._totals_of = rows
        return {"trades": rows[:limit], **self._totals}

    def csv(self, flt: TradeFilter) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for r in self.rows():
            if flt.keep(r):
                w.writerow([_iso(r.get("entry_time_ms")) if c == "entry_time" else
                            _iso(r.get("exit_time_ms")) if c == "exit_time" else
                            "" if r.get(c) is None else r.get(c) for c in CSV_COLUMNS])
        return out.getvalue()


def _iso(ms: Any) -> str:
    if not ms:
        return ""
    import datetime as dt
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"
