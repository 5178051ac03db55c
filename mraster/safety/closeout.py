"""The one close-order routine: market closes that only reduce, split to the market lot maximum.

Bot (emergency close, FastTP partial exits), guard (crossed levels, kill-switch, `--flatten`) and
the dashboard's "Stop all and flatten" all close through this module, so a position above the
venue's MARKET_LOT_SIZE maximum is closed in chunks everywhere, and the position <-> trade match
is the same everywhere (symbol, position side and direction).

- `close_requests` (pure): the chunked orders that close all or part of a position.
- `close_position` (async): sends them one at a time. After an answer that leaves the outcome
  unknown (timeout, 5xx) it reads the position again before sending more, so a close is never
  sent twice on a guess; reduce-only (hedge mode: the position side) caps any overlap with another
  actor's close at what is held.
- `match_trade`: the open trade of a position.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Awaitable, Callable, Iterable

from mraster.domain.rules import SymbolRules, snap
from mraster.domain.types import Order, OrderRequest, OrderStatus, OrderType, Position, PositionSide, Side
from mraster.exchange.errors import ExchangeError, ReduceOnlyRejectedError, RetryableError
from mraster.exchange.interface import Exchange

ZERO = Decimal(0)
ClientIds = Callable[[int], str]                 # n-th order of this close (0, 1, ...) -> client order id
Send = Callable[[OrderRequest], Awaitable[Order]]
EXTRA_SENDS = 3                                  # sends allowed beyond the chunks (after unknown outcomes)


# --------------------------------------------------------------------------- pure
def market_lot_max(rules: SymbolRules | None) -> Decimal:
    """MARKET_LOT_SIZE maximum (LOT_SIZE when the venue has no market filter); 0 = no limit known."""
    return rules.lot(market=True)[2] if rules is not None else ZERO


def chunk_sizes(qty: Decimal, max_qty: Decimal) -> list[Decimal]:
    """`qty` in pieces of at most `max_qty` (0: one piece)."""
    out, left = [], qty
    while left > 0:
        piece = min(left, max_qty) if max_qty > 0 else left
        out.append(piece)
        left -= piece
    return out


def _ids(client_id: str | ClientIds) -> ClientIds:
    if callable(client_id):
        return client_id
    fixed = client_id

    def same_id(n: int) -> str:
        return fixed
    return same_id


def close_request(p: Position, client_id: str, qty: Decimal) -> OrderRequest:
    """A market order that only reduces `p`: reduce-only in one-way mode; in hedge mode the position
    side names the leg (the venue refuses reduceOnly there)."""
    return OrderRequest(symbol=p.symbol, side=p.exit_side, type=OrderType.MARKET, client_order_id=client_id,
                        quantity=qty, reduce_only=p.position_side is PositionSide.BOTH, position_side=p.position_side)


def close_quantity(p: Position, rules: SymbolRules | None, qty: Decimal | None = None) -> Decimal:
    """How much a close of `qty` (None: all) of `p` may send: at most what is held, a partial close
    rounded down to the market step (a whole position is already on the venue's grid)."""
    if qty is None or qty >= p.qty:
        return p.qty
    if qty <= 0:
        return ZERO
    if rules is None:
        return qty
    step = rules.lot(market=True)[0]
    return snap(qty, step, ZERO, "down") if step > 0 else qty


def close_requests(p: Position, client_id: str | ClientIds, rules: SymbolRules | None,
                   qty: Decimal | None = None) -> list[OrderRequest]:
    """Market reduce-only close of all (or `qty`) of `p`, split at the market lot maximum.
    With one client id for every chunk, each market order must be done before the next is sent."""
    ids = _ids(client_id)
    return [close_request(p, ids(n), piece)
            for n, piece in enumerate(chunk_sizes(close_quantity(p, rules, qty), market_lot_max(rules)))]


def match_trade(trades: Iterable[object], p: Position) -> object | None:
    """The open trade of position `p` (newest if several): same symbol, position side and direction.
    Works on any trade record with `symbol`, `side` ("LONG"/"SHORT"), `position_side`, `status` and
    `entry_time_ms` (the bot's `state.model.Trade`)."""
    side = "LONG" if p.is_long else "SHORT"
    found = [t for t in trades
             if getattr(t, "symbol", None) == p.symbol and getattr(t, "status", "") != "closed"
             and getattr(t, "side", None) == side
             and getattr(t, "position_side", "BOTH") == p.position_side.value]
    return max(found, key=lambda t: getattr(t, "entry_time_ms", 0)) if found else None


# --------------------------------------------------------------------------- sending
@dataclass
class CloseResult:
    symbol: str
    position_side: PositionSide
    side: Side                                   # the closing side
    requested: Decimal                           # what this close set out to close
    remaining: Decimal                           # what the venue holds afterwards (as last known)
    start: Decimal                               # what was held when it started
    orders: list[Order] = field(default_factory=list)
    error: str = ""

    @property
    def closed(self) -> Decimal:
        return max(ZERO, self.start - self.remaining)

    @property
    def done(self) -> bool:
        """Everything asked for is closed (or the position was already smaller)."""
        return not self.error and self.remaining <= self.start - self.requested

    @property
    def avg_price(self) -> Decimal | None:
        qty = sum((o.executed_qty for o in self.orders), ZERO)
        value = sum((o.executed_qty * o.avg_price for o in self.orders if o.avg_price > 0), ZERO)
        return value / qty if qty > 0 and value > 0 else None

    def to_json(self) -> dict[str, object]:
        return {"symbol": self.symbol, "position_side": self.position_side.value, "side": self.side.value,
                "requested": str(self.requested), "closed": str(self.closed), "remaining": str(self.remaining),
                "orders": [{"client_order_id": o.client_order_id, "order_id": o.order_id, "status": o.status.value,
                            "qty": str(o.executed_qty)} for o in self.orders], "error": self.error}


async def held_qty(exchange: Exchange, p: Position) -> Decimal:
    """What the venue holds now of the position `p` (same symbol, position side, direction)."""
    for q in await exchange.positions(p.symbol):
        if q.position_side is p.position_side and not q.is_flat and q.is_long == p.is_long:
            return q.qty
    return ZERO


async def _rules_of(exchange: Exchange, symbol: str) -> SymbolRules | None:
    try:
        return (await exchange.symbol_rules()).get(symbol)
    except ExchangeError:
        return None


FETCH: object = object()                         # close_position's default: the client's symbol rules


async def close_position(exchange: Exchange, p: Position, client_id: str | ClientIds, *,
                         rules: SymbolRules | None | object = FETCH, qty: Decimal | None = None,
                         send: Send | None = None) -> CloseResult:
    """Close all (or `qty`) of `p` at market in chunks of the market lot maximum, one at a time.

    `rules` default to the client's (cached) symbol rules (None: no limit known); `send` defaults to `exchange.place_order`
    (the bot passes its journalled placement). Never raises on a venue answer: the result says what
    was closed, what is left and why it stopped. After an unknown outcome the position is read again
    before anything more is sent."""
    if rules is FETCH:
        rules = await _rules_of(exchange, p.symbol)
    assert rules is None or isinstance(rules, SymbolRules)
    send = send or exchange.place_order
    ids = _ids(client_id)
    want = close_quantity(p, rules, qty)
    result = CloseResult(p.symbol, p.position_side, p.exit_side, requested=want, remaining=p.qty, start=p.qty)
    keep = p.qty - want                      # what should be left afterwards
    max_qty = market_lot_max(rules)
    budget = len(chunk_sizes(want, max_qty)) + EXTRA_SENDS
    sent = 0
    while result.remaining > keep and not result.error:
        if sent >= budget:
            result.error = f"gave up after {sent} orders with {result.remaining} still held"
            break
        piece = chunk_sizes(result.remaining - keep, max_qty)[0]
        req = close_request(p, ids(sent), piece)
        sent += 1
        try:
            order = await send(req)
        except ReduceOnlyRejectedError as exc:       # nothing (more) to reduce: someone else closed it
            await _reread(exchange, p, result, f"reduce-only refused ({exc})")
            if result.remaining > keep and not result.error:
                result.error = f"the venue refused to reduce {p.symbol}: {exc}"
            continue
        except RetryableError as exc:                # outcome unknown: look before sending more
            await _reread(exchange, p, result, f"close outcome unknown ({exc})")
            continue
        except ExchangeError as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            continue
        result.orders.append(order)
        if order.status is OrderStatus.FILLED and order.executed_qty > 0:
            result.remaining = max(ZERO, result.remaining - order.executed_qty)
        else:                                        # NEW, partial, expired: the venue says what is left
            await _reread(exchange, p, result, f"close order {order.client_order_id} ended {order.status.value}")
            if order.executed_qty <= 0 and not order.is_open and result.remaining > keep:
                result.error = f"close order {order.client_order_id} ended {order.status.value} with nothing filled"
    return result


async def _reread(exchange: Exchange, p: Position, result: CloseResult, why: str) -> None:
    try:
        result.remaining = await held_qty(exchange, p)
    except ExchangeError as exc:
        result.error = f"{why}; the position could not be read again ({exc})"
