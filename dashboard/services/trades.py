"""The trade history: every closed trade, from every writer, with paging, filters and CSV.

Sources, merged by trade id (the first that knows a trade wins):
1. the bot's journal (`trades` table, read only: the bot is its one writer) - every trade it closed;
2. the bot's state file (`closed_trades`, the last ASTER_HISTORY_MAX) - when the journal is not there;
3. the dashboard's exit journal (dashboard/services/exits.py) - exits the bot has not reconciled yet.
The journal is re-read only when its files changed (mtime and size of the database and its WAL).
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

from mraster.state import BotState
from mraster.state.model import Trade

from dashboard.services.views import trade_row

ENGINE = "bot"          # the one engine instance of this dashboard until engine instances land
ACCOUNT = "default"     # the one account of this dashboard until named accounts land
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
        self.trades: list[Trade] = []

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

    def read(self) -> tuple[int | None, list[Trade]]:
        """(a version that changes whenever the trades may have changed, the closed trades)."""
        conn = self._connect()
        if conn is None:
            self.trades = []
            return None, self.trades
        try:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                rows = conn.execute("SELECT detail FROM trades WHERE status='closed'").fetchall()
                self.trades = [t for t in map(_trade, rows) if t is not None]
                self._version = version
        except sqlite3.Error:
            self.close()
            return None, self.trades
        return (self._ino or 0) * 1_000_003 + version, self.trades


def _trade(row: tuple[str]) -> Trade | None:
    try:
        return Trade.from_json(json.loads(row[0]))
    except (ValueError, TypeError, KeyError):
        return None


def history_row(trade: Trade, source: str) -> dict[str, Any]:
    row = trade_row(trade)
    row.update(engine=ENGINE, account=ACCOUNT, source=source)
    return row


class TradeHistory:
    def __init__(self, journal_file: Path | None, read_state: Callable[[], BotState | None],
                 recorded: Callable[[], Iterable[Trade]]):
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
        sources = [("bot", journal), ("bot", state.closed_trades if state else []), ("dashboard", recorded)]
        for source, trades in sources:
            for t in trades:
                if t.trade_id in seen or t.exit_reason in NOT_FILLED or t.entry_price is None:
                    continue
                seen[t.trade_id] = history_row(t, source)
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
