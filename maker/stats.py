"""Trade statistics per executor (seed 003's `query_stats.py`), from the venue's trades joined with the journal.

Definitions (docs/maker.md):
- an order is a maker order when the journal placed it as one (`placed`, kind maker); a fill of an
  order the journal does not know is classed by the venue's own maker flag;
- maker orders = maker orders placed in the window (an order whose acknowledgement was lost counts);
  fill rate = maker orders with at least one fill / maker orders placed;
- taker orders = taker orders placed (emergency-stop closes included) plus unknown orders that took;
- volume = filled notional (price x quantity); fees = commissions of the fills;
- realized P&L = venue realized PnL of the fills - fees + funding (income FUNDING_FEE), in money and in
  basis points of the total volume.
Pure `compute`; `collect` does the reading.
"""
from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Iterable

from mraster.domain.types import IncomeRecord, UserTrade
from mraster.exchange.errors import UnknownOrderError
from mraster.exchange.interface import Exchange

from maker import journal as jr

ZERO = Decimal(0)


@dataclass
class ServerStats:
    server: str
    hours: float
    taker_orders: int = 0
    taker_volume: Decimal = ZERO
    maker_orders: int = 0
    maker_filled_orders: int = 0
    maker_volume: Decimal = ZERO
    fees: Decimal = ZERO
    realized: Decimal = ZERO          # venue realized PnL of the fills, before fees
    funding: Decimal = ZERO
    fills: int = 0

    @property
    def fill_rate(self) -> float:
        return self.maker_filled_orders / self.maker_orders if self.maker_orders else 0.0

    @property
    def volume(self) -> Decimal:
        return self.taker_volume + self.maker_volume

    @property
    def pnl(self) -> Decimal:
        return self.realized - self.fees + self.funding

    @property
    def pnl_bps(self) -> float:
        return float(self.pnl / self.volume * 10_000) if self.volume > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        out = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}
        out.update(fill_rate=round(self.fill_rate, 6), volume=str(self.volume), pnl=str(self.pnl),
                   pnl_bps=round(self.pnl_bps, 4))
        return out


def compute(server: str, hours: float, trades: Iterable[UserTrade], income: Iterable[IncomeRecord],
            records: Iterable[dict[str, Any]], since_ms: int) -> ServerStats:
    """Statistics of the window starting at `since_ms` (trades and records before it are ignored)."""
    s = ServerStats(server, hours)
    kind_of: dict[str, str] = {}            # client id -> maker | taker (placed in the window)
    order_kind: dict[int, str] = {}         # venue order id -> maker | taker (from acknowledgements)
    cid_of: dict[int, str] = {}
    for rec in records:
        if int(rec.get("t", 0)) < since_ms:
            continue
        cid = str(rec.get("cid", ""))
        if rec.get("ev") == "placed" and cid:
            kind_of[cid] = str(rec.get("kind", "maker"))
        elif rec.get("ev") == "ack" and cid and rec.get("order_id") is not None:
            cid_of[int(rec["order_id"])] = cid
    for oid, cid in cid_of.items():
        if cid in kind_of:
            order_kind[oid] = kind_of[cid]
    s.maker_orders = sum(1 for k in kind_of.values() if k == "maker")
    s.taker_orders = sum(1 for k in kind_of.values() if k == "taker")
    filled_makers: set[int] = set()
    unknown_takers: set[int] = set()
    for t in trades:
        if t.time < since_ms:
            continue
        s.fills += 1
        notional = t.price * t.qty
        s.fees += t.commission
        s.realized += t.realized_pnl
        kind = order_kind.get(t.order_id) or ("maker" if t.maker else "taker")
        if kind == "maker":
            s.maker_volume += notional
            if t.order_id in order_kind:
                filled_makers.add(t.order_id)
        else:
            s.taker_volume += notional
            if t.order_id not in order_kind:
                unknown_takers.add(t.order_id)
    s.maker_filled_orders = len(filled_makers)
    s.taker_orders += len(unknown_takers)
    s.funding = sum((i.income for i in income if i.income_type == "FUNDING_FEE" and i.time >= since_ms), ZERO)
    return s


def from_json(obj: dict[str, Any]) -> ServerStats:
    """The inverse of `to_json` (the executor's /stats answer)."""
    names = {f for f in ServerStats.__dataclass_fields__}
    kw = {k: (Decimal(v) if isinstance(ServerStats.__dataclass_fields__[k].default, Decimal) else v)
          for k, v in obj.items() if k in names}
    return ServerStats(**kw)


def money(x: Decimal) -> str:
    sign = "-" if x < 0 else ""
    return f"{sign}${abs(x):,.2f}"


def format_stats(s: ServerStats) -> str:
    """The seed's output shape."""
    return (f"Server {s.server} Statistics ({s.hours:g} h):\n"
            f"  Taker: {s.taker_orders} orders, ${s.taker_volume:,.0f} volume\n"
            f"  Maker: {s.maker_orders} orders, ${s.maker_volume:,.0f} volume (fill rate {s.fill_rate * 100:.1f}%)\n"
            f"  Fees: {money(s.fees)}\n"
            f"  Realized P&L: {money(s.pnl)} ({s.pnl_bps:.2f} bps)")


async def venue_trades(exchange: Exchange, symbol: str, since_ms: int, until_ms: int) -> list[UserTrade]:
    """Every trade of the window, paged by time (the venue answers at most 1000 per call, 7 days per window)."""
    out: list[UserTrade] = []
    start = since_ms
    seen: set[int] = set()
    while start <= until_ms:
        end = min(until_ms, start + 7 * 24 * 3600 * 1000 - 1)
        page = await exchange.user_trades(symbol, start_time=start, end_time=end, limit=1000)
        fresh = [t for t in page if t.id not in seen]
        out += fresh
        seen.update(t.id for t in fresh)
        if len(page) < 1000 or not fresh:
            start = end + 1
        else:
            start = max(t.time for t in page)
    return out


async def collect(exchange: Exchange, symbol: str, server: str, journal_path: Any, hours: float,
                  now_ms: int) -> ServerStats:
    since = now_ms - int(hours * 3600 * 1000)
    trades = await venue_trades(exchange, symbol, since, now_ms)
    income = await exchange.income(symbol, "FUNDING_FEE", start_time=since, end_time=now_ms, limit=1000)
    # file reading and the sums run in a thread: the executor's loop (expiry, instructions) never waits on them
    records = await asyncio.to_thread(lambda: list(jr.read(journal_path, since)))
    acked = {r.get("cid") for r in records if r.get("ev") == "ack"}
    for rec in [r for r in records if r.get("ev") == "placed" and r.get("cid") not in acked]:
        try:           # acknowledgement lost: the venue says which order id the client id got, if any
            order = await exchange.get_order(symbol, client_order_id=str(rec["cid"]))
        except UnknownOrderError:
            continue
        records.append({"t": rec["t"], "ev": "ack", "cid": rec["cid"], "order_id": order.order_id})
    return await asyncio.to_thread(compute, server, hours, trades, income, records, since)
