"""Exits reach the trade history within seconds, whoever closed the position and whatever runs.

Design (one writer per journal): the bot's journal (ASTER_JOURNAL_FILE) has one writer, the bot. The
dashboard keeps its own journal next to it (`<journal>.dashboard.sqlite`, same schema, `mraster.journal`)
and is its only writer. Every `SWEEP_S` seconds, and at once after a flatten or a close from the page,
it looks at the bot's open trades: a trade whose position the venue no longer holds, and whose closing
fills on the venue cover its entry quantity, is recorded there as closed, with its exit price, PnL, fees,
funding, R and the reason read from the closing orders' client ids (`mraster.domain.exits`, the same
classification the bot uses). So exits made by flatten, the guard, a manual close or the venue itself
(liquidation, a stop or take-profit that triggered) are in the history while the bot is stopped, and
seconds after they happen while it runs (the bot's own record supersedes this one in the trades view
once it reconciles: same trade id, same reason).

The guard cannot be this writer: "Stop all and flatten" stops it too. The bot cannot: it may be stopped.
The same holds for every other scanner instance (`ExitSource`: its state file and the venue of its named
account). Each row names the account whose venue showed the exit and the instance that owned the position:
the one its client order ids name, else the instance whose state file listed the trade.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from mraster.accounts import DEFAULT_ACCOUNT
from mraster.domain.exits import classify_exit, r_multiple, weighted_price
from mraster.domain.ownership import DEFAULT_SCANNER
from mraster.exchange.errors import ExchangeError, UnknownOrderError
from mraster.journal import Journal
from mraster.aio import cancel_and_wait
from mraster.logs import get_logger
from mraster.state import BotState, read_state_readonly
from mraster.state.model import Trade

from dashboard.services.trades import Owned, trade_owner

log = get_logger("dashboard.exits")
SWEEP_S = 2.0
SEVEN_DAYS_MS = 7 * 86_400_000
SOURCE = "recorded by the dashboard from the venue's fills"


def closing_fills(trade: Trade, fills: list[Any]) -> tuple[list[Any], list[Any]] | None:
    """(entry fills, closing fills) of `trade` when the closing fills after its entry cover its entry
    quantity, else None (not closed yet, or the venue has not listed the fills yet)."""
    need = trade.entry_qty or trade.qty
    if not need or need <= 0:
        return None
    exit_side = "SELL" if trade.is_long else "BUY"
    entry_id = trade.order_ids.get("EN")
    entries = [f for f in fills if entry_id is not None and f.order_id == entry_id]
    closing, got = [], Decimal(0)
    for f in sorted(fills, key=lambda f: (f.time, f.id)):
        if f.side.value != exit_side or f.time < trade.entry_time_ms or got >= need:
            continue
        closing.append(f)
        got += f.qty
    return (entries, closing) if got >= need else None


@dataclass(frozen=True)
class ExitSource:
    """One scanner instance's open trades (its state file) and the venue of its account."""
    account: str
    instance: str
    read_state: Callable[[], BotState | None]
    venue: Any


class ExitRecorder:
    def __init__(self, path: Path, read_state: Callable[[], BotState | None], venue: Any,
                 interval: float = SWEEP_S, more_sources: Callable[[], list[ExitSource]] | None = None):
        self.path = Path(path)
        self._read_state = read_state
        self._venue = venue
        self._more = more_sources
        self.interval = interval
        self._journal: Journal | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.recorded: dict[str, Trade] = {}
        self.owners: dict[str, tuple[str, str]] = {}     # trade id -> (account, instance) of its row
        self.last_error = ""

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        journal = self.journal()
        rows = journal.conn.execute("SELECT detail, account, instance FROM trades WHERE status='closed'").fetchall()
        for detail, account, instance in rows:
            try:
                t = Trade.from_json(json.loads(detail))
            except (ValueError, TypeError, KeyError):
                continue
            self.recorded[t.trade_id] = t
            self.owners[t.trade_id] = (account, instance)

    def owned(self) -> list[Owned]:
        """The recorded exits with the account and instance of each (for the trade history)."""
        return [(t, *self.owners.get(i, (DEFAULT_ACCOUNT, DEFAULT_SCANNER))) for i, t in self.recorded.items()]

    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal(self.path)
        return self._journal

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the page must keep working; said in the trades view
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            await asyncio.sleep(self.interval)

    # ------------------------------------------------------------------ the sweep
    def candidates(self, state: BotState | None) -> list[Trade]:
        if state is None:
            return []
        return [t for t in state.open_trades.values()
                if t.status == "open" and t.trade_id not in self.recorded and (t.entry_qty or t.qty)]

    def sources(self) -> list[ExitSource]:
        main = ExitSource(DEFAULT_ACCOUNT, DEFAULT_SCANNER, self._read_state, self._venue)
        return [main, *(self._more() if self._more is not None else [])]

    async def sweep(self, fresh: bool = False) -> list[str]:
        """Record every scanner trade the venue of its account shows closed; returns their ids."""
        async with self._lock:
            done: list[str] = []
            for source in self.sources():
                done += await self._sweep_one(source, fresh)
            return done

    async def _sweep_one(self, source: ExitSource, fresh: bool) -> list[str]:
        todo = self.candidates(source.read_state())
        if not todo or source.venue is None:
            return []
        if fresh:
            source.venue.invalidate()
        answer = await source.venue.positions()
        if answer["data"] is None:
            return []
        held = {(p["symbol"], p["side"]) for p in answer["data"]}
        gone = [t for t in todo if (t.symbol, t.side) not in held]
        if not gone:
            return []
        client = await source.venue.client()
        done = []
        for trade in gone:
            try:
                closed = await self._closed(client, trade, source)
            except ExchangeError as exc:
                self.last_error = f"{trade.symbol}: exit not read ({exc})"
                continue
            if closed is not None:
                done.append(closed.trade_id)
        return done

    async def _closed(self, ex: Any, trade: Trade, source: ExitSource) -> Trade | None:
        now = ex.now_ms()
        start = max(trade.entry_time_ms, now - SEVEN_DAYS_MS + 60_000)
        fills = await ex.user_trades(trade.symbol, start_time=start)
        split = closing_fills(trade, fills)
        if split is None:
            return None
        entries, closing = split
        orders = []
        for oid in dict.fromkeys(f.order_id for f in closing):
            try:
                orders.append(await ex.get_order(trade.symbol, order_id=oid))
            except UnknownOrderError:
                continue
        t = Trade.from_json(trade.to_json())
        reason, detail = classify_exit(t, orders)
        exit_time = closing[-1].time
        try:
            income = [r for r in await ex.income(trade.symbol, income_type="FUNDING_FEE", start_time=start)
                      if r.time <= exit_time]
        except ExchangeError:
            income = []
        t.status = "closed"
        t.qty = t.entry_qty or t.qty
        t.exit_price = weighted_price((f.price, f.qty) for f in closing)
        t.exit_time_ms = exit_time
        t.exit_reason = reason
        t.exit_detail = "; ".join(x for x in (t.exit_detail, detail, SOURCE) if x)
        t.realized_pnl = sum((f.realized_pnl for f in closing), Decimal(0))
        t.fees = sum((f.commission for f in [*entries, *closing]), Decimal(0))
        t.funding = sum((r.income for r in income), Decimal(0))
        t.r_multiple = r_multiple(t)
        t.updated_ms = now
        journal = self.journal()
        owner = trade_owner(t, source.instance)
        journal.account, journal.instance = source.account, owner     # what this trade's rows are written under
        journal.record_fills(t.trade_id, [*entries, *closing])
        journal.record_funding(t.trade_id, income)
        journal.upsert_trade(t)
        self.owners[t.trade_id] = (source.account, owner)
        self.recorded[t.trade_id] = t
        net = t.realized_pnl - t.fees + t.funding
        log.info("position.closed", f"{t.symbol} {t.side} closed by {reason}: PnL {net:.4f} "
                 f"(recorded by the dashboard from the venue's fills)", symbol=t.symbol, trade_id=t.trade_id,
                 reason=reason, exit_price=t.exit_price, net_pnl=net, r_multiple=t.r_multiple, activity=True)
        return t


class StateFileReader:
    """A scanner instance's state file, read-only and parsed again only when it changes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._key: tuple[int, int] | None = None
        self._state: BotState | None = None

    def __call__(self) -> BotState | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        if key != self._key:
            self._state, self._key = read_state_readonly(self.path), key
        return self._state


def scanner_exit_sources(engines: Any, accounts: Any, settings: Callable[[], Any],
                         default_state_file: Path) -> Callable[[], list[ExitSource]]:
    """The scanner instances besides the default one (whose state file the recorder already reads), each
    with its own state file and the venue of its named account."""
    readers: dict[str, StateFileReader] = {}
    default = Path(default_state_file).resolve()

    def sources() -> list[ExitSource]:
        out = []
        for inst in engines.instances:
            path = engines.state_file_of(inst, settings())
            if path is None or Path(path).resolve() == default:
                continue
            venue = accounts.reader(inst.account)
            if venue is None:          # an account no longer declared: its engines cannot trade either
                continue
            reader = readers.setdefault(str(path), StateFileReader(path))
            out.append(ExitSource(inst.account, inst.name, reader, venue))
        return out
    return sources
