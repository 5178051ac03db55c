"""SQLite persistence: accounts, positions, orders, trades and income survive a restart.

Group commit on the event loop: the operations handled in one turn of the loop are written together in
one transaction (WAL, synchronous=NORMAL) right after that turn, and a request is answered only once its
rows are written. So a crash of the paper exchange never loses an acknowledged operation nor leaves half
of one, while concurrent requests share a commit instead of paying one each.
A database that cannot be opened is moved aside (never overwritten) and reported; a fresh one is started.
"""
from __future__ import annotations

import json
import sqlite3
import asyncio

import orjson
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from mraster.domain.types import MarginType, OrderStatus, OrderType, PositionSide, Side, TimeInForce, WorkingType
from mraster.storage.atomic import quarantine
from paper.engine.algo import ALGO_ID_BASE
from paper.engine.model import EAccount, EOrder, EPosition, Fill, Income

SCHEMA_VERSION = 1
Statements = list[tuple[str, list[tuple]]]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (key TEXT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agents (agent TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_id INTEGER PRIMARY KEY, account TEXT NOT NULL, symbol TEXT NOT NULL, client_id TEXT NOT NULL,
    status TEXT NOT NULL, is_open INTEGER NOT NULL, time INTEGER NOT NULL, update_time INTEGER NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS orders_by_account ON orders (account, symbol, order_id);
CREATE INDEX IF NOT EXISTS orders_open ON orders (is_open) WHERE is_open = 1;
CREATE TABLE IF NOT EXISTS trades (
    trade_id INTEGER PRIMARY KEY, account TEXT NOT NULL, symbol TEXT NOT NULL, order_id INTEGER NOT NULL,
    time INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS trades_by_account ON trades (account, symbol, time);
CREATE TABLE IF NOT EXISTS income (
    tran_id INTEGER PRIMARY KEY, account TEXT NOT NULL, symbol TEXT NOT NULL, type TEXT NOT NULL,
    time INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS income_by_account ON income (account, time);
"""
_ORDER_ENUMS = {"side": Side, "type": OrderType, "orig_type": OrderType, "position_side": PositionSide,
                "time_in_force": TimeInForce, "working_type": WorkingType, "status": OrderStatus}
_ORDER_DECIMALS = ("orig_qty", "price", "stop_price", "executed_qty", "cum_quote", "activate_price", "price_rate")


def _dec(x: Any) -> Decimal | None:
    return None if x is None else Decimal(x)


def order_from_dict(d: dict) -> EOrder:
    d = dict(d)
    for k, enum in _ORDER_ENUMS.items():
        d[k] = enum(d[k])
    for k in _ORDER_DECIMALS:
        d[k] = _dec(d.get(k))
    return EOrder(**d)


def account_to_dict(a: EAccount) -> dict:
    return {
        "key": a.key, "wallet": str(a.wallet), "dual_side": a.dual_side, "multi_assets": a.multi_assets,
        "leverage": a.leverage, "margin_type": {s: m.value for s, m in a.margin_type.items()},
        "update_time": a.update_time,
        "positions": [{"symbol": p.symbol, "position_side": p.position_side.value, "amount": str(p.amount),
                       "entry_price": str(p.entry_price), "isolated_wallet": str(p.isolated_wallet),
                       "realized": str(p.realized), "update_time": p.update_time}
                      for p in a.positions.values() if p.amount != 0 or p.isolated_wallet != 0 or p.realized != 0],
    }


def account_from_dict(d: dict) -> EAccount:
    acct = EAccount(d["key"], Decimal(d["wallet"]), bool(d.get("dual_side")), bool(d.get("multi_assets")),
                    {k: int(v) for k, v in d.get("leverage", {}).items()},
                    {k: MarginType(v) for k, v in d.get("margin_type", {}).items()},
                    update_time=int(d.get("update_time", 0)))
    for p in d.get("positions", []):
        pos = EPosition(p["symbol"], PositionSide(p["position_side"]), Decimal(p["amount"]), Decimal(p["entry_price"]),
                        Decimal(p["isolated_wallet"]), Decimal(p["realized"]), int(p.get("update_time", 0)))
        acct.positions[(pos.symbol, pos.position_side)] = pos
    return acct


def _fill_to_dict(f: Fill) -> dict:
    return {"trade_id": f.trade_id, "order_id": f.order_id, "account": f.account, "symbol": f.symbol,
            "side": f.side.value, "position_side": f.position_side.value, "price": str(f.price), "qty": str(f.qty),
            "quote_qty": str(f.quote_qty), "commission": str(f.commission), "commission_asset": f.commission_asset,
            "realized_pnl": str(f.realized_pnl), "maker": f.maker, "time": f.time}


def fill_from_dict(d: dict) -> Fill:
    return Fill(d["trade_id"], d["order_id"], d["account"], d["symbol"], Side(d["side"]),
                PositionSide(d["position_side"]), Decimal(d["price"]), Decimal(d["qty"]), Decimal(d["quote_qty"]),
                Decimal(d["commission"]), d["commission_asset"], Decimal(d["realized_pnl"]), d["maker"], d["time"])


def income_from_dict(d: dict) -> Income:
    return Income(d["tran_id"], d["account"], d["symbol"], d["income_type"], Decimal(d["income"]), d["asset"],
                  d["time"], d.get("info", ""), d.get("trade_id", ""))


class Store:
    def __init__(self, path: Path | str, *, reset: bool = False, log: Any = None):
        self.path = Path(path)
        self.log = log
        self.quarantined: Path | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if reset:
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as exc:
            self.quarantined = quarantine(self.path)
            for suffix in ("-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            if log is not None:
                log.error("paper.store_corrupt", f"{self.path} is unreadable ({exc}); kept aside as "
                          f"{self.quarantined}; starting with a fresh database", path=str(self.path),
                          quarantined=str(self.quarantined))
            self.db = self._open()
        self._batch: list[Statements] = []
        self._batch_done: asyncio.Future | None = None
        self.transactions = 0
        self.operations = 0

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"schema version {row[0]}, expected {SCHEMA_VERSION}")
            db.execute("SELECT count(*) FROM accounts").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        """Write what is queued, then close."""
        self.flush()
        try:
            self.db.close()
        except sqlite3.Error:
            pass

    # ------------------------------------------------------------------ group commit
    def _submit(self, statements: Statements) -> asyncio.Future | None:
        """Queue an operation for the commit after this turn of the event loop (at once without a loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write([statements])
            return None
        self._batch.append(statements)
        if self._batch_done is None:
            self._batch_done = loop.create_future()
            loop.call_soon(self.flush)
        return self._batch_done

    def flush(self) -> None:
        """Write every queued operation now, in one transaction (reads call this first)."""
        batch, done = self._batch, self._batch_done
        if not batch:
            return
        self._batch, self._batch_done = [], None
        try:
            self._write(batch)
        except Exception as exc:   # disk full, I/O error: every operation in the batch learns of it
            if self.log is not None:
                self.log.error("paper.store_write_failed", f"writing {self.path} failed: {exc}",
                               path=str(self.path), error=str(exc))
            if done is not None and not done.done():
                done.set_exception(exc)
                done.exception()       # retrieved: waiting requests re-raise it; nobody else must
            return
        if done is not None and not done.done():
            done.set_result(None)

    def _write(self, batch: list[Statements]) -> None:
        db = self.db
        if len(batch) == 1 and len(batch[0]) == 1 and len(batch[0][0][1]) == 1:
            db.execute(batch[0][0][0], batch[0][0][1][0])      # one row: SQLite commits it atomically alone
            self.transactions += 1
            self.operations += 1
            return
        db.execute("BEGIN")
        try:
            for statements in batch:
                for sql, rows in statements:
                    db.executemany(sql, rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.transactions += 1
        self.operations += len(batch)

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        self.flush()
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, items: dict[str, Any]) -> asyncio.Future | None:
        return self._submit([("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in items.items()])])

    # ------------------------------------------------------------------ write
    def write(self, orders: Iterable[EOrder], accounts: Iterable[EAccount], fills: Iterable[Fill],
              incomes: Iterable[Income]) -> asyncio.Future | None:
        """Queue one operation's changes (written whole, in one transaction); None when there is nothing."""
        statements = []
        rows = [(o.order_id, o.account, o.symbol, o.client_order_id, o.status.value, 1 if o.is_open else 0,
                 o.time, o.update_time, orjson.dumps(o, default=str).decode()) for o in orders]
        if rows:
            statements.append(("INSERT OR REPLACE INTO orders VALUES (?,?,?,?,?,?,?,?,?)", rows))
        rows = [(a.key, orjson.dumps(account_to_dict(a)).decode()) for a in accounts]
        if rows:
            statements.append(("INSERT OR REPLACE INTO accounts VALUES (?, ?)", rows))
        rows = [(f.trade_id, f.account, f.symbol, f.order_id, f.time, orjson.dumps(_fill_to_dict(f)).decode())
                for f in fills]
        if rows:
            statements.append(("INSERT OR REPLACE INTO trades VALUES (?,?,?,?,?,?)", rows))
        rows = [(i.tran_id, i.account, i.symbol, i.income_type, i.time,
                 orjson.dumps({"tran_id": i.tran_id, "account": i.account, "symbol": i.symbol,
                               "income_type": i.income_type, "income": str(i.income), "asset": i.asset,
                               "time": i.time, "info": i.info, "trade_id": i.trade_id}).decode()) for i in incomes]
        if rows:
            statements.append(("INSERT OR REPLACE INTO income VALUES (?,?,?,?,?,?)", rows))
        return self._submit(statements) if statements else None

    # ------------------------------------------------------------------ read
    def load_accounts(self) -> list[EAccount]:
        self.flush()
        return [account_from_dict(json.loads(d)) for (d,) in self.db.execute("SELECT data FROM accounts")]

    def load_open_orders(self) -> list[EOrder]:
        self.flush()
        return [order_from_dict(json.loads(d)) for (d,) in
                self.db.execute("SELECT data FROM orders WHERE is_open=1 ORDER BY order_id")]

    def max_ids(self) -> tuple[int, int, int]:
        """Highest regular order id (algo ids have their own range, see max_algo_id), trade id, income id."""
        self.flush()
        q = self.db.execute
        return (q("SELECT coalesce(max(order_id), 0) FROM orders WHERE order_id < ?", (ALGO_ID_BASE,)).fetchone()[0],
                q("SELECT coalesce(max(trade_id), 0) FROM trades").fetchone()[0],
                q("SELECT coalesce(max(tran_id), 0) FROM income").fetchone()[0])

    def find_order(self, account: str, symbol: str, order_id: int | None, client_id: str | None) -> EOrder | None:
        """A regular order (never an Algo Service order: the order endpoints do not see those)."""
        self.flush()
        if order_id is not None:
            row = self.db.execute("SELECT data FROM orders WHERE order_id=? AND account=? AND symbol=? AND order_id<?",
                                  (order_id, account, symbol, ALGO_ID_BASE)).fetchone()
        else:
            row = self.db.execute("SELECT data FROM orders WHERE account=? AND symbol=? AND client_id=? AND order_id<? "
                                  "ORDER BY order_id DESC LIMIT 1", (account, symbol, client_id, ALGO_ID_BASE)).fetchone()
        return order_from_dict(json.loads(row[0])) if row else None

    def max_algo_id(self) -> int:
        self.flush()
        return self.db.execute("SELECT coalesce(max(order_id), 0) FROM orders WHERE order_id >= ?",
                               (ALGO_ID_BASE,)).fetchone()[0]

    def find_algo(self, account: str, algo_id: int | None, client_algo_id: str | None) -> EOrder | None:
        """An Algo Service order by algoId or clientAlgoId (latest first), any symbol."""
        self.flush()
        if algo_id is not None:
            row = self.db.execute("SELECT data FROM orders WHERE order_id=? AND account=? AND order_id>=?",
                                  (algo_id, account, ALGO_ID_BASE)).fetchone()
        else:
            row = self.db.execute("SELECT data FROM orders WHERE account=? AND client_id=? AND order_id>=? "
                                  "ORDER BY order_id DESC LIMIT 1", (account, client_algo_id, ALGO_ID_BASE)).fetchone()
        return order_from_dict(json.loads(row[0])) if row else None

    def algo_parents(self, algo_ids: Iterable[int]) -> list[EOrder]:
        """The triggered algo orders of these ids (their children are still open after a restart)."""
        self.flush()
        out = []
        for algo_id in sorted(set(algo_ids)):
            row = self.db.execute("SELECT data FROM orders WHERE order_id=?", (algo_id,)).fetchone()
            if row:
                out.append(order_from_dict(json.loads(row[0])))
        return out

    def _history(self, table: str, id_col: str, where: dict[str, Any], from_id: int | None, start: int | None,
                 end: int | None, limit: int, extra: tuple[str, Any] | None = None) -> list[dict]:
        """Rows of a history table for an account: from an id or a time forward, else the latest `limit`."""
        self.flush()
        sql = f"SELECT data FROM {table} WHERE " + " AND ".join(f"{col}=?" for col in where)
        args: list[Any] = list(where.values())
        if extra is not None:
            sql += f" AND {extra[0]}"
            args.append(extra[1])
        for cond, value in ((f"{id_col}>=?", from_id), ("time>=?", start), ("time<=?", end)):
            if value is not None:
                sql += f" AND {cond}"
                args.append(value)
        forward = from_id is not None or start is not None
        sql += f" ORDER BY {id_col} {'ASC' if forward else 'DESC'} LIMIT ?"
        args.append(limit)
        rows = [json.loads(d) for (d,) in self.db.execute(sql, args)]
        return sorted(rows, key=lambda r: r[id_col])

    def orders(self, account: str, symbol: str, *, from_id: int | None = None, start: int | None = None,
               end: int | None = None, limit: int = 500) -> list[EOrder]:
        rows = self._history("orders", "order_id", {"account": account, "symbol": symbol}, from_id, start, end, limit,
                             ("order_id<?", ALGO_ID_BASE))
        return [order_from_dict(r) for r in rows]

    def algo_orders(self, account: str, symbol: str, *, from_id: int | None = None, start: int | None = None,
                    end: int | None = None, limit: int = 500) -> list[EOrder]:
        rows = self._history("orders", "order_id", {"account": account, "symbol": symbol}, from_id, start, end, limit,
                             ("order_id>=?", ALGO_ID_BASE))
        return [order_from_dict(r) for r in rows]

    def trades(self, account: str, symbol: str, *, from_id: int | None = None, start: int | None = None,
               end: int | None = None, limit: int = 500) -> list[Fill]:
        rows = self._history("trades", "trade_id", {"account": account, "symbol": symbol}, from_id, start, end, limit)
        return [fill_from_dict(r) for r in rows]

    def incomes(self, account: str, *, symbol: str | None = None, income_type: str | None = None,
                start: int | None = None, end: int | None = None, limit: int = 100) -> list[Income]:
        where = {"account": account, "symbol": symbol, "type": income_type}
        rows = self._history("income", "tran_id", {k: v for k, v in where.items() if v}, None, start, end, limit)
        return [income_from_dict(r) for r in rows]

    def liquidation_orders(self, account: str, symbol: str | None, limit: int = 50) -> list[EOrder]:
        self.flush()
        sql = "SELECT data FROM orders WHERE account=? AND client_id LIKE 'autoclose-%'"
        args: list[Any] = [account]
        if symbol:
            sql += " AND symbol=?"
            args.append(symbol)
        sql += " ORDER BY order_id DESC LIMIT ?"
        args.append(limit)
        return sorted((order_from_dict(json.loads(d)) for (d,) in self.db.execute(sql, args)),
                      key=lambda o: o.order_id)

    # ------------------------------------------------------------------ api keys
    def api_keys(self) -> dict[str, str]:
        self.flush()
        return dict(self.db.execute("SELECT key, secret FROM api_keys"))

    def put_api_key(self, key: str, secret: str) -> asyncio.Future | None:
        return self._submit([("INSERT OR REPLACE INTO api_keys VALUES (?, ?)", [(key, secret)])])

    # ------------------------------------------------------------------ V3 agents (API wallets)
    def agents(self) -> list[dict]:
        self.flush()
        return [json.loads(d) for (d,) in self.db.execute("SELECT data FROM agents ORDER BY agent")]

    def put_agent(self, agent: str, data: dict) -> asyncio.Future | None:
        return self._submit([("INSERT OR REPLACE INTO agents VALUES (?, ?)", [(agent, orjson.dumps(data).decode())])])

    def delete_agent(self, agent: str) -> asyncio.Future | None:
        return self._submit([("DELETE FROM agents WHERE agent=?", [(agent,)])])
