"""The trade journal (ASTER_JOURNAL_FILE): every order, fill, fee, funding payment and trade result.

SQLite in WAL mode with synchronous=FULL: a row is on disk before the state file
(written after it) can reference it. Inserts of venue facts are idempotent: fills
are unique per (symbol, venue trade id) and funding per income key, so
reconciliation may re-read the venue's history as often as it likes.
The policy's `policy_events` table (ml_policy.eventlog) lives in the same file.

A journal opened with `on_write_error` never raises on a failed write (disk full, read-only file):
the error is handed to the callback (the bot refuses new entries and says why) and the write is
skipped, so an order that protects a position is never held back by the disk; `on_write_ok` is
called at the first successful write after a failure. Without the callbacks, writes raise.
Trades are keyed by trade id; the bot gives every trade (adoptions too) its own id, so a row is
never overwritten by another trade.
"""
from __future__ import annotations

import functools
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from mraster.domain.types import IncomeRecord, UserTrade
from mraster.state.model import Trade

SCHEMA_VERSION = 2       # 2: account and instance on every row (migrated from 1 in place, nothing lost)

_DDL = """
CREATE TABLE IF NOT EXISTS orders (
    id          INTEGER PRIMARY KEY,
    time_ms     INTEGER NOT NULL,
    trade_id    TEXT NOT NULL,
    symbol      TEXT NOT NULL,
    role        TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    action      TEXT NOT NULL,            -- place | cancel
    request     TEXT NOT NULL,            -- JSON of what was sent
    status      TEXT NOT NULL,            -- sending, then the venue's order status or "error"
    order_id    INTEGER,
    result      TEXT,                     -- JSON of the venue's answer
    error       TEXT,
    account     TEXT NOT NULL DEFAULT 'main',     -- the named account (mraster/accounts.py)
    instance    TEXT NOT NULL DEFAULT 'scanner'   -- the engine instance that sent it
);
CREATE INDEX IF NOT EXISTS orders_trade ON orders(trade_id);
CREATE INDEX IF NOT EXISTS orders_client ON orders(client_id);
CREATE TABLE IF NOT EXISTS fills (
    symbol        TEXT NOT NULL,
    venue_id      INTEGER NOT NULL,       -- the venue's trade id
    order_id      INTEGER NOT NULL,
    trade_id      TEXT NOT NULL,
    side          TEXT NOT NULL,
    price         TEXT NOT NULL,
    qty           TEXT NOT NULL,
    quote_qty     TEXT NOT NULL,
    commission    TEXT NOT NULL,
    commission_asset TEXT NOT NULL,
    realized_pnl  TEXT NOT NULL,
    maker         INTEGER NOT NULL,
    time_ms       INTEGER NOT NULL,
    account       TEXT NOT NULL DEFAULT 'main',   -- two accounts on one venue see the same venue trade id
    instance      TEXT NOT NULL DEFAULT 'scanner',
    PRIMARY KEY (account, symbol, venue_id)
);
CREATE INDEX IF NOT EXISTS fills_trade ON fills(trade_id);
CREATE TABLE IF NOT EXISTS funding (
    uid       TEXT NOT NULL,              -- the venue's tranId, or symbol:time:amount when it has none
    symbol    TEXT NOT NULL,
    trade_id  TEXT NOT NULL,
    income    TEXT NOT NULL,
    asset     TEXT NOT NULL,
    time_ms   INTEGER NOT NULL,
    account   TEXT NOT NULL DEFAULT 'main',
    instance  TEXT NOT NULL DEFAULT 'scanner',
    PRIMARY KEY (account, uid)
);
CREATE INDEX IF NOT EXISTS funding_trade ON funding(trade_id);
CREATE TABLE IF NOT EXISTS journal_meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trades (
    trade_id      TEXT PRIMARY KEY,
    symbol        TEXT NOT NULL,
    side          TEXT NOT NULL,
    status        TEXT NOT NULL,
    bucket        TEXT NOT NULL,
    adopted       INTEGER NOT NULL,
    entry_time_ms INTEGER NOT NULL,
    entry_price   TEXT,
    entry_qty     TEXT,
    exit_time_ms  INTEGER,
    exit_price    TEXT,
    exit_reason   TEXT,
    realized_pnl  TEXT,
    fees          TEXT,
    funding       TEXT,
    r_multiple    REAL,
    detail        TEXT NOT NULL,          -- JSON of the whole trade record
    account       TEXT NOT NULL DEFAULT 'main',
    instance      TEXT NOT NULL DEFAULT 'scanner'
);
CREATE INDEX IF NOT EXISTS trades_owner ON trades(account, instance);
"""

_TRADE_COLS = ("trade_id, symbol, side, status, bucket, adopted, entry_time_ms, entry_price, entry_qty, exit_time_ms, "
               "exit_price, exit_reason, realized_pnl, fees, funding, r_multiple, detail, account, instance")
_FILL_COLS = ("symbol, venue_id, order_id, trade_id, side, price, qty, quote_qty, commission, commission_asset, "
              "realized_pnl, maker, time_ms, account, instance")
_FUNDING_COLS = "uid, symbol, trade_id, income, asset, time_ms, account, instance"


def _table_sql(name: str) -> str:
    """The CREATE TABLE statement of one table of the current schema."""
    start = _DDL.index(f"CREATE TABLE IF NOT EXISTS {name} (")
    return _DDL[start:_DDL.index(");", start) + 2]


def migrate_v1(conn: sqlite3.Connection) -> None:
    """Schema 1 -> 2, in one transaction: account and instance on every row (the rows already there are
    the main account's default scanner, the only engine schema 1 knew); fills and funding are rebuilt
    because their keys gain the account. Every row is kept."""
    for table in ("orders", "trades"):
        conn.execute(f"ALTER TABLE {table} ADD COLUMN account TEXT NOT NULL DEFAULT 'main'")
        conn.execute(f"ALTER TABLE {table} ADD COLUMN instance TEXT NOT NULL DEFAULT 'scanner'")
    for table, old_cols in (("fills", _FILL_COLS.rsplit(", account", 1)[0]),
                            ("funding", _FUNDING_COLS.rsplit(", account", 1)[0])):
        conn.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
        conn.execute(_table_sql(table).replace("IF NOT EXISTS ", ""))
        conn.execute(f"INSERT INTO {table}({old_cols}) SELECT {old_cols} FROM {table}_v1")
        conn.execute(f"DROP TABLE {table}_v1")


def _dump(obj: Any) -> str:
    return json.dumps(obj, default=str, sort_keys=True)


F = TypeVar("F", bound=Callable[..., Any])


def _write(fn: F) -> F:
    """A journal write: with `on_write_error` set, a failure is reported and skipped (returns None)."""
    @functools.wraps(fn)
    def wrapper(self: "Journal", *args: Any, **kw: Any) -> Any:
        try:
            out = fn(self, *args, **kw)
        except (sqlite3.Error, OSError) as exc:
            if self.on_write_error is None:
                raise
            self.failing = True
            trade_id = _trade_of(args, kw)
            if trade_id:
                self.unwritten_trades.add(trade_id)
            self.on_write_error("journal", exc)
            return None
        if self.failing:
            self.failing = False
            if self.on_write_ok is not None:
                self.on_write_ok("journal")
        return out
    return wrapper  # type: ignore[return-value]


def _trade_of(args: tuple[Any, ...], kw: dict[str, Any]) -> str:
    """The trade a failed write was about (its first argument: a trade, or a trade id), "" if none."""
    if isinstance(kw.get("trade_id"), str):
        return str(kw["trade_id"])
    first = args[0] if args else None
    if isinstance(first, str):
        return first
    return str(getattr(first, "trade_id", "") or "")


class Journal:
    def __init__(self, path: Path | str, on_write_error: Callable[[str, BaseException], None] | None = None,
                 on_write_ok: Callable[[str], None] | None = None, *, account: str = "main",
                 instance: str = "scanner"):
        self.on_write_error, self.on_write_ok = on_write_error, on_write_ok
        self.account, self.instance = account, instance      # written on every row this journal adds
        self.failing = False
        # trades with a write that failed (disk full): the resync after the outage rewrites each of them,
        # whatever time its fields carry, so no change is lost between a trade's stamp and the failed write
        self.unwritten_trades: set[str] = set()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=10.0)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("BEGIN IMMEDIATE")      # one process migrates; another instance waits, then sees 2
        try:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path}: journal schema {version} is newer than this program "
                                   f"({SCHEMA_VERSION})")
            if version == 1:
                migrate_v1(self.conn)
            for statement in _DDL.split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()

    # ---------------------------------------------------------------- orders
    @_write
    def order_sending(self, *, time_ms: int, trade_id: str, symbol: str, role: str, client_id: str, action: str,
                      request: dict[str, Any]) -> int:
        """Written before the request goes out, so a crash after the send leaves a trace."""
        cur = self.conn.execute(
            "INSERT INTO orders(time_ms, trade_id, symbol, role, client_id, action, request, status, account, "
            "instance) VALUES (?,?,?,?,?,?,?, 'sending',?,?)",
            (time_ms, trade_id, symbol, role, client_id, action, _dump(request), self.account, self.instance))
        rowid = cur.lastrowid       # always set after a successful INSERT
        if rowid is None:
            raise RuntimeError("journal INSERT into orders returned no row id")
        return rowid

    @_write
    def order_result(self, row_id: int, *, status: str, order_id: int | None = None,
                     result: dict[str, Any] | None = None, error: str | None = None) -> None:
        self.conn.execute("UPDATE orders SET status=?, order_id=?, result=?, error=? WHERE id=?",
                          (status, order_id, None if result is None else _dump(result), error, row_id))

    @_write
    def probe(self, time_ms: int) -> bool:
        """A small real write, to learn whether the journal can be written again after a failure."""
        self.conn.execute("INSERT OR REPLACE INTO journal_meta(key, value) VALUES ('probe', ?)", (str(time_ms),))
        return True

    def client_ids_of(self, trade_id: str, role: str) -> list[str]:
        """Every client id the journal has sent (or tried to) for this trade and role."""
        rows = self.conn.execute("SELECT DISTINCT client_id FROM orders WHERE trade_id=? AND role=? "
                                 "AND action='place'", (trade_id, role)).fetchall()
        return [r[0] for r in rows]

    def orders_for(self, trade_id: str) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM orders WHERE trade_id=? ORDER BY id", (trade_id,))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

    # ----------------------------------------------------------------- fills
    @_write
    def record_fills(self, trade_id: str, fills: Iterable[UserTrade]) -> int:
        """Idempotent; returns how many fills were new."""
        before = self.conn.total_changes
        with self.conn:
            self.conn.executemany(
                f"INSERT OR IGNORE INTO fills({_FILL_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(f.symbol, f.id, f.order_id, trade_id, f.side.value, str(f.price), str(f.qty), str(f.quote_qty),
                  str(f.commission), f.commission_asset, str(f.realized_pnl), int(f.maker), f.time, self.account,
                  self.instance) for f in fills])
        return self.conn.total_changes - before

    def fill_totals(self, trade_id: str) -> dict[str, Decimal]:
        rows = self.conn.execute("SELECT commission, realized_pnl FROM fills WHERE trade_id=?", (trade_id,)).fetchall()
        return {"fees": sum((Decimal(c) for c, _ in rows), Decimal(0)),
                "realized_pnl": sum((Decimal(p) for _, p in rows), Decimal(0)), "count": Decimal(len(rows))}

    # --------------------------------------------------------------- funding
    @staticmethod
    def funding_uid(rec: IncomeRecord) -> str:
        return rec.tran_id or f"{rec.symbol}:{rec.time}:{rec.income}"

    @_write
    def record_funding(self, trade_id: str, records: Iterable[IncomeRecord]) -> int:
        before = self.conn.total_changes
        with self.conn:
            self.conn.executemany(
                f"INSERT OR IGNORE INTO funding({_FUNDING_COLS}) VALUES (?,?,?,?,?,?,?,?)",
                [(self.funding_uid(r), r.symbol, trade_id, str(r.income), r.asset, r.time, self.account,
                  self.instance) for r in records])
        return self.conn.total_changes - before

    def funding_total(self, trade_id: str) -> Decimal:
        rows = self.conn.execute("SELECT income FROM funding WHERE trade_id=?", (trade_id,)).fetchall()
        return sum((Decimal(r[0]) for r in rows), Decimal(0))

    # ---------------------------------------------------------------- trades
    @_write
    def upsert_trade(self, t: Trade) -> None:
        def s(v: Any) -> str | None:
            return None if v is None else str(v)
        self.conn.execute(
            f"INSERT INTO trades({_TRADE_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(trade_id) DO UPDATE SET "
            "status=excluded.status, bucket=excluded.bucket, entry_price=excluded.entry_price, "
            "entry_qty=excluded.entry_qty, exit_time_ms=excluded.exit_time_ms, exit_price=excluded.exit_price, "
            "exit_reason=excluded.exit_reason, realized_pnl=excluded.realized_pnl, fees=excluded.fees, "
            "funding=excluded.funding, r_multiple=excluded.r_multiple, detail=excluded.detail",
            (t.trade_id, t.symbol, t.side, t.status, t.bucket, int(t.adopted), t.entry_time_ms, s(t.entry_price),
             s(t.entry_qty), t.exit_time_ms or None, s(t.exit_price), t.exit_reason or None, s(t.realized_pnl),
             s(t.fees), s(t.funding), t.r_multiple, _dump(t.to_json()), self.account, self.instance))

    def trade_row(self, trade_id: str) -> dict[str, Any] | None:
        cur = self.conn.execute("SELECT * FROM trades WHERE trade_id=?", (trade_id,))
        row = cur.fetchone()
        return None if row is None else dict(zip([c[0] for c in cur.description], row))
