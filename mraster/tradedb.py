"""The engines' trade database: trades, positions and daily stats of every engine instance (seed 004's
`Trade`, `Position`, `DailyStats`), account and instance on every row.

It lives in the project's SQLite file (ASTER_JOURNAL_FILE, beside the scanner's journal tables) and keeps
its own schema version in `db_migrations` (component `tradedb`), so it never fights the journal's
`user_version`. Migrations run in order, each in one transaction; a file newer than this program is
refused, never rewritten. Amounts are Decimal text (exact), times UTC milliseconds.

    db = TradeDB(path)                       # creates or migrates
    db.record_trade(TradeRow(...))           # idempotent per (account, client order id)
    db.volume_on("2026-12-05", instance="dn1")
"""
from __future__ import annotations

import csv
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

COMPONENT = "tradedb"
DAY_MS = 86_400_000
ZERO = Decimal(0)

# Each step takes the file from version i to i+1. Version 1 is the seed's schema (no account or instance);
# version 2 puts account and engine instance on every row, as every engine here writes them.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE engine_trades (
        id            INTEGER PRIMARY KEY,
        time_ms       INTEGER NOT NULL,
        symbol        TEXT NOT NULL,
        side          TEXT NOT NULL,            -- BUY | SELL
        position_side TEXT NOT NULL,            -- LONG | SHORT | BOTH
        action        TEXT NOT NULL,            -- open | close
        price         TEXT NOT NULL,
        quantity      TEXT NOT NULL,
        notional      TEXT NOT NULL,
        fee           TEXT NOT NULL,
        realized_pnl  TEXT NOT NULL,
        client_order_id TEXT NOT NULL,
        order_id      INTEGER,
        pair_id       TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE engine_positions (
        pair_id       TEXT NOT NULL,
        leg           TEXT NOT NULL,            -- LONG | SHORT
        symbol        TEXT NOT NULL,
        quantity      TEXT NOT NULL,
        entry_price   TEXT NOT NULL,
        opened_ms     INTEGER NOT NULL,
        closed_ms     INTEGER,
        exit_price    TEXT,
        realized_pnl  TEXT NOT NULL DEFAULT '0',
        fees          TEXT NOT NULL DEFAULT '0',
        funding       TEXT NOT NULL DEFAULT '0',
        status        TEXT NOT NULL,            -- open | closed
        close_reason  TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (pair_id, leg)
    );
    CREATE TABLE engine_daily_stats (
        day           TEXT NOT NULL,            -- YYYY-MM-DD (UTC)
        volume        TEXT NOT NULL,
        trades        INTEGER NOT NULL,
        fees          TEXT NOT NULL,
        funding       TEXT NOT NULL,
        realized_pnl  TEXT NOT NULL,
        hold_equiv    TEXT NOT NULL,
        rotations     INTEGER NOT NULL,
        PRIMARY KEY (day)
    );
    """,
    """
    ALTER TABLE engine_trades ADD COLUMN account TEXT NOT NULL DEFAULT 'main';
    ALTER TABLE engine_trades ADD COLUMN instance TEXT NOT NULL DEFAULT '';
    CREATE UNIQUE INDEX engine_trades_cid ON engine_trades(account, client_order_id);
    CREATE INDEX engine_trades_time ON engine_trades(instance, time_ms);
    ALTER TABLE engine_positions ADD COLUMN account TEXT NOT NULL DEFAULT 'main';
    ALTER TABLE engine_positions ADD COLUMN instance TEXT NOT NULL DEFAULT '';
    CREATE INDEX engine_positions_open ON engine_positions(instance, status);
    CREATE TABLE engine_daily_stats_v2 (
        day TEXT NOT NULL, instance TEXT NOT NULL, account TEXT NOT NULL,
        volume TEXT NOT NULL, trades INTEGER NOT NULL, fees TEXT NOT NULL, funding TEXT NOT NULL,
        realized_pnl TEXT NOT NULL, hold_equiv TEXT NOT NULL, rotations INTEGER NOT NULL,
        PRIMARY KEY (day, instance, account));
    INSERT INTO engine_daily_stats_v2 SELECT day, '', 'main', volume, trades, fees, funding, realized_pnl,
        hold_equiv, rotations FROM engine_daily_stats;
    DROP TABLE engine_daily_stats;
    ALTER TABLE engine_daily_stats_v2 RENAME TO engine_daily_stats;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
TABLES = {"trades": "engine_trades", "positions": "engine_positions", "daily_stats": "engine_daily_stats"}


class TradeDBError(RuntimeError):
    """The file is newer than this program, or a table name is unknown."""


@dataclass(frozen=True)
class TradeRow:
    time_ms: int
    account: str
    instance: str
    symbol: str
    side: str
    position_side: str
    action: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    realized_pnl: Decimal
    client_order_id: str
    order_id: int | None = None
    pair_id: str = ""

    @property
    def notional(self) -> Decimal:
        return self.price * self.quantity


@dataclass(frozen=True)
class PositionRow:
    pair_id: str
    leg: str
    account: str
    instance: str
    symbol: str
    quantity: Decimal
    entry_price: Decimal
    opened_ms: int
    status: str = "open"
    closed_ms: int | None = None
    exit_price: Decimal | None = None
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    close_reason: str = ""


def utc_day(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


def day_start_ms(ms: int) -> int:
    return ms - ms % DAY_MS


def schema_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS db_migrations (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    row = conn.execute("SELECT version FROM db_migrations WHERE component=?", (COMPONENT,)).fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> list[int]:
    """Apply the missing steps up to `target`, each in its own transaction; returns the versions reached."""
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise TradeDBError(f"trade database schema {current} is newer than this program ({SCHEMA_VERSION}); "
                           "update mraster")
    done: list[int] = []
    for version in range(current + 1, target + 1):
        statements = [s.strip() for s in MIGRATIONS[version - 1].split(";") if s.strip()]
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in statements:
                conn.execute(stmt)
            conn.execute("INSERT INTO db_migrations(component, version) VALUES (?, ?) ON CONFLICT(component) "
                         "DO UPDATE SET version=excluded.version", (COMPONENT, version))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        done.append(version)
    return done


def _d(v: Any) -> Decimal:
    return Decimal(str(v)) if v not in (None, "") else ZERO


class TradeDB:
    """`on_write_error`: a failed write (disk full, read-only file) is reported to it and skipped instead of
    raised, so an engine that is closing a position is never stopped by its bookkeeping."""

    def __init__(self, path: Path | str, *, create: bool = True,
                 on_write_error: Callable[[BaseException], None] | None = None):
        self.on_write_error = on_write_error
        self.path = Path(path)
        if not create and not self.path.exists():
            raise TradeDBError(f"no trade database at {self.path} (run 'mraster db init')")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=10.0)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.migrated = migrate(self.conn)

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------------ writes
    def _write(self, sql: str, params: Sequence[Any]) -> int:
        """Rows changed; -1 when the write failed and `on_write_error` took the error."""
        try:
            return int(self.conn.execute(sql, tuple(params)).rowcount)
        except (sqlite3.Error, OSError) as exc:
            if self.on_write_error is None:
                raise
            self.on_write_error(exc)
            return -1

    def record_trade(self, t: TradeRow) -> bool:
        """Idempotent per (account, client order id); True when the row is new."""
        return self._write(
            "INSERT OR IGNORE INTO engine_trades(time_ms, symbol, side, position_side, action, price, quantity, "
            "notional, fee, realized_pnl, client_order_id, order_id, pair_id, account, instance) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (t.time_ms, t.symbol, t.side, t.position_side, t.action, str(t.price), str(t.quantity), str(t.notional),
             str(t.fee), str(t.realized_pnl), t.client_order_id, t.order_id, t.pair_id, t.account, t.instance)) > 0

    def upsert_position(self, p: PositionRow) -> None:
        self._write(
            "INSERT INTO engine_positions(pair_id, leg, symbol, quantity, entry_price, opened_ms, closed_ms, "
            "exit_price, realized_pnl, fees, funding, status, close_reason, account, instance) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(pair_id, leg) DO UPDATE SET "
            "quantity=excluded.quantity, entry_price=excluded.entry_price, closed_ms=excluded.closed_ms, "
            "exit_price=excluded.exit_price, realized_pnl=excluded.realized_pnl, fees=excluded.fees, "
            "funding=excluded.funding, status=excluded.status, close_reason=excluded.close_reason",
            (p.pair_id, p.leg, p.symbol, str(p.quantity), str(p.entry_price), p.opened_ms, p.closed_ms,
             None if p.exit_price is None else str(p.exit_price), str(p.realized_pnl), str(p.fees), str(p.funding),
             p.status, p.close_reason, p.account, p.instance))

    def upsert_daily(self, day: str, instance: str, account: str, stats: dict[str, Any]) -> None:
        self._write(
            "INSERT INTO engine_daily_stats(day, instance, account, volume, trades, fees, funding, realized_pnl, "
            "hold_equiv, rotations) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(day, instance, account) DO UPDATE SET "
            "volume=excluded.volume, trades=excluded.trades, fees=excluded.fees, funding=excluded.funding, "
            "realized_pnl=excluded.realized_pnl, hold_equiv=excluded.hold_equiv, rotations=excluded.rotations",
            (day, instance, account, str(stats.get("volume", ZERO)), int(stats.get("trades", 0)),
             str(stats.get("fees", ZERO)), str(stats.get("funding", ZERO)), str(stats.get("realized_pnl", ZERO)),
             str(stats.get("hold_equiv", ZERO)), int(stats.get("rotations", 0))))

    # ------------------------------------------------------------------- reads
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, tuple(params))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

    def trades(self, instance: str | None = None, since_ms: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        where, params = "time_ms >= ?", [since_ms]
        if instance is not None:
            where += " AND instance = ?"
            params.append(instance)   # type: ignore[arg-type]
        return self._rows(f"SELECT * FROM engine_trades WHERE {where} ORDER BY time_ms DESC, id DESC LIMIT ?",
                          [*params, limit])

    def positions(self, instance: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        clauses, params = [], []
        if instance is not None:
            clauses.append("instance = ?")
            params.append(instance)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        return self._rows(f"SELECT * FROM engine_positions{where} ORDER BY opened_ms", params)

    def volume_between(self, start_ms: int, end_ms: int, instance: str | None = None) -> Decimal:
        sql, params = "SELECT notional FROM engine_trades WHERE time_ms >= ? AND time_ms < ?", [start_ms, end_ms]
        if instance is not None:
            sql += " AND instance = ?"
            params.append(instance)   # type: ignore[arg-type]
        return sum((_d(r[0]) for r in self.conn.execute(sql, params)), ZERO)

    def volume_on(self, day_ms: int, instance: str | None = None) -> Decimal:
        """Traded volume of the UTC day containing `day_ms`."""
        start = day_start_ms(day_ms)
        return self.volume_between(start, start + DAY_MS, instance)

    def daily_stats(self, instance: str | None = None, days: int = 30) -> list[dict[str, Any]]:
        where, params = "", []
        if instance is not None:
            where, params = " WHERE instance = ?", [instance]
        return self._rows(f"SELECT * FROM engine_daily_stats{where} ORDER BY day DESC LIMIT ?", [*params, days])

    # ------------------------------------------------------------------ export
    def export_csv(self, table: str, out: Path | str, instance: str | None = None) -> int:
        """Write one table (trades, positions, daily_stats) to a CSV file; returns the row count."""
        name = TABLES.get(table)
        if name is None:
            raise TradeDBError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
        where, params = "", []
        if instance is not None:
            where, params = " WHERE instance = ?", [instance]
        cur = self.conn.execute(f"SELECT * FROM {name}{where}", params)
        cols = [c[0] for c in cur.description]
        rows = cur.fetchall()
        tmp = Path(out).with_name(Path(out).name + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(cols)
            writer.writerows(rows)
        tmp.replace(out)
        return len(rows)


def read_csv(path: Path | str) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "TABLES", "PositionRow", "TradeDB", "TradeDBError", "TradeRow",
           "day_start_ms", "migrate", "read_csv", "schema_version", "utc_day"]
