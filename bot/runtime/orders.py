"""Orders with a paper trail: every placement and cancel is journalled before it is sent and logged
with its client id after. Brackets and the emergency close live here, so the entry path, FastTP
and reconciliation protect positions the same way.

Money safety: if the stop of a filled position cannot be placed (rejected as would-trigger, or still
failing after retries), the position is closed at once at market, reduce-only (role CL). A close that
fails (or leaves a position on the venue) does not make the trade closed: it is marked with
`close_requested`, stays open in state and journal, and reconciliation retries the close every cycle
until the venue shows the position flat; only then is it finalised from the venue's real fills.

Protection never waits on the disk: journal rows are written before each send, but a journal that
cannot be written (disk full) is reported through `on_disk_error` and the order still goes out.
Every order of a role after the first carries a sequence number in its client id (ids.py), so a
look-up by client id never finds an older, finished order.
"""
from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import asdict
from decimal import Decimal
from typing import Any, Callable

from mraster.domain.brackets import stop_crossed
from mraster.domain.ids import Role, client_order_id, parse_client_order_id, sequence_of
from mraster.domain.rules import fmt
from mraster.domain.types import Order, OrderRequest, OrderType, PositionSide, Side, WorkingType
from mraster.exchange.errors import (DuplicateClientOrderIdError, ExchangeError, OrderWouldTriggerError, RateLimitedError,
                               RequestError, RetryableError, UnknownOrderError)
from mraster.exchange.interface import Exchange
from mraster.journal import Journal
from mraster.logs import get_logger
from mraster.safety.closeout import close_position
from mraster.state.model import Trade

log = get_logger("bot.orders")
PLACE_ATTEMPTS = 3
RETRY_PAUSE_S = 0.3


def _request_json(req: OrderRequest) -> dict[str, Any]:
    return {k: (fmt(v) if isinstance(v, Decimal) else getattr(v, "value", v)) for k, v in asdict(req).items()
            if v is not None and v is not False}


def trade_entry_side(trade: Trade) -> Side:
    return Side.BUY if trade.is_long else Side.SELL


class OrderExecutor:
    def __init__(self, exchange: Exchange, journal: Journal, working_type: Callable[[], str],
                 sleep: Callable[[float], Any] = asyncio.sleep,
                 on_disk_error: Callable[[str, BaseException], None] | None = None):
        self.ex = exchange
        self.journal = journal
        self._working_type = working_type
        self._sleep = sleep
        self._on_disk_error = on_disk_error
        self.placed = 0

    # ------------------------------------------------------------------ basics
    def _journal(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """A journal write that never stops an order: on a disk error it is reported and skipped."""
        try:
            return fn(*args, **kw)
        except (sqlite3.Error, OSError) as exc:
            if self._on_disk_error is None:
                raise
            self._on_disk_error("journal", exc)
            return None

    def next_client_id(self, trade: Trade, role: Role) -> str:
        """A client id for a new order of `role` that no earlier order of this trade carried: one more than
        the highest sequence the journal or the state has seen for the role."""
        seen = [sequence_of(c) for r, c in trade.client_ids.items() if r == role.value]
        used: list[str] = []
        try:
            used = self.journal.client_ids_of(trade.trade_id, role.value)
        except (sqlite3.Error, OSError):
            pass
        if not used and not seen:
            return client_order_id(trade.trade_id, role)
        return client_order_id(trade.trade_id, role, max(seen + [sequence_of(c) for c in used]) + 1)

    async def submit(self, trade: Trade, role: Role, req: OrderRequest) -> Order:
        """Place one order. An order already resting under the same client id counts as placed."""
        row = self._journal(self.journal.order_sending, time_ms=self.ex.now_ms(), trade_id=trade.trade_id,
                            symbol=req.symbol, role=role.value, client_id=req.client_order_id, action="place",
                            request=_request_json(req))
        try:
            order = await self.ex.place_order(req)
        except DuplicateClientOrderIdError:
            order = await self.ex.get_order(req.symbol, client_order_id=req.client_order_id)
            log.info("order.exists", f"{role.name} already resting under {req.client_order_id}",
                     symbol=req.symbol, client_id=req.client_order_id, order_id=order.order_id)
        except ExchangeError as exc:
            if row is not None:
                self._journal(self.journal.order_result, row, status="error", error=str(exc))
            log.warning("order.failed", f"{role.name} {req.type.value} {req.side.value} rejected: {exc}",
                        symbol=req.symbol, client_id=req.client_order_id, role=role.value, code=exc.code)
            raise
        if row is not None:
            self._journal(self.journal.order_result, row, status=order.status.value, order_id=order.order_id,
                          result={"status": order.status.value, "executed_qty": str(order.executed_qty),
                                  "avg_price": str(order.avg_price), "order_id": order.order_id})
        trade.client_ids[role.value] = req.client_order_id
        trade.order_ids[role.value] = order.order_id
        self.placed += 1
        log.info("order.placed", f"{role.name} {req.type.value} {req.side.value} {req.symbol} -> {order.status.value}",
                 symbol=req.symbol, client_id=req.client_order_id, order_id=order.order_id, role=role.value,
                 type=req.type.value, side=req.side.value, qty=req.quantity, price=req.price,
                 stop_price=req.stop_price, status=order.status.value, trade_id=trade.trade_id)
        return order

    async def cancel(self, trade: Trade, role: Role) -> Order | None:
        return await self._cancel_cid(trade, role, trade.client_ids.get(role.value)
                                      or client_order_id(trade.trade_id, role))

    async def _cancel_cid(self, trade: Trade, role: Role, cid: str) -> Order | None:
        row = self._journal(self.journal.order_sending, time_ms=self.ex.now_ms(), trade_id=trade.trade_id,
                            symbol=trade.symbol, role=role.value, client_id=cid, action="cancel",
                            request={"client_id": cid})
        try:
            order = await self.ex.cancel_order(trade.symbol, client_order_id=cid)
        except UnknownOrderError as exc:
            if row is not None:
                self._journal(self.journal.order_result, row, status="unknown", error=str(exc))
            return None
        if row is not None:
            self._journal(self.journal.order_result, row, status=order.status.value, order_id=order.order_id)
        log.info("order.cancelled", f"cancelled {role.name} of {trade.trade_id}", symbol=trade.symbol,
                 client_id=cid, order_id=order.order_id, role=role.value, trade_id=trade.trade_id)
        return order

    # --------------------------------------------------------------- brackets
    def bracket_request(self, trade: Trade, role: Role, level: Decimal, id_role: Role | None = None,
                        cid: str | None = None) -> OrderRequest:
        kind = OrderType.STOP_MARKET if role is Role.STOP else OrderType.TAKE_PROFIT_MARKET
        return OrderRequest(symbol=trade.symbol, side=trade_entry_side(trade).opposite, type=kind,
                            client_order_id=cid or client_order_id(trade.trade_id, id_role or role), stop_price=level,
                            close_position=True, working_type=WorkingType(self._working_type()),
                            position_side=_position_side(trade))

    async def _place_with_retries(self, trade: Trade, role: Role, req: OrderRequest) -> Order:
        for attempt in range(1, PLACE_ATTEMPTS + 1):
            try:
                return await self.submit(trade, role, req)
            except (RetryableError, RateLimitedError) as exc:
                if attempt == PLACE_ATTEMPTS:
                    raise
                wait = getattr(exc, "retry_after", RETRY_PAUSE_S * attempt)
                await self._sleep(min(wait, 5.0))
        raise AssertionError("unreachable")

    async def place_brackets(self, trade: Trade, roles: tuple[Role, ...] = (Role.STOP, Role.TAKE_PROFIT),
                             price_now: Decimal | None = None, again: bool = False) -> bool:
        """Place the stop (first) and the take-profit at the trade's intended levels.
        Returns False when no stop could be placed: the position was then closed at market, or, if the
        close failed too, the trade carries `close_requested` and stays open (see `close_now_or_warn`).
        `again`: a bracket placed again (reconciliation found it missing) gets a fresh client id."""
        if Role.STOP in roles:
            assert trade.stop_price is not None
            why = ""
            if price_now is not None and stop_crossed(trade_entry_side(trade), trade.stop_price, price_now):
                why = f"price {price_now} is already through the stop {trade.stop_price}"
            else:
                try:
                    cid = self.next_client_id(trade, Role.STOP) if again else None
                    await self._place_with_retries(trade, Role.STOP, self.bracket_request(trade, Role.STOP,
                                                                                        trade.stop_price, cid=cid))
                except OrderWouldTriggerError as exc:
                    why = f"stop {trade.stop_price} would trigger at once ({exc})"
                except ExchangeError as exc:
                    why = f"stop could not be placed: {exc}"
            if why:
                trade.exit_detail = why
                log.error("stop.failed", f"{trade.symbol}: {why}; closing the position at market now",
                          symbol=trade.symbol, trade_id=trade.trade_id, activity=True)
                await self.close_now_or_warn(trade, why)
                return False
        if Role.TAKE_PROFIT in roles and trade.take_profit_price is not None:
            try:
                cid = self.next_client_id(trade, Role.TAKE_PROFIT) if again else None
                await self._place_with_retries(trade, Role.TAKE_PROFIT,
                                               self.bracket_request(trade, Role.TAKE_PROFIT, trade.take_profit_price,
                                                                    cid=cid))
            except OrderWouldTriggerError:
                trade.exit_detail = f"take-profit {trade.take_profit_price} already reached"
                log.warning("take_profit.reached", f"{trade.symbol}: take-profit level already reached; closing",
                            symbol=trade.symbol, trade_id=trade.trade_id, activity=True)
                await self.close_now_or_warn(trade, trade.exit_detail)
                return True
            except ExchangeError as exc:
                log.warning("take_profit.failed", f"{trade.symbol}: take-profit not placed ({exc}); the stop "
                            "protects the position and the next reconciliation retries", symbol=trade.symbol,
                            trade_id=trade.trade_id)
        log.info("bracket.placed", f"{trade.symbol} {trade.side}: stop {trade.stop_price}, take-profit "
                 f"{trade.take_profit_price}", symbol=trade.symbol, trade_id=trade.trade_id,
                 stop=trade.stop_price, take_profit=trade.take_profit_price, roles=[r.value for r in roles],
                 activity=True)
        return True

    async def move_take_profit(self, trade: Trade) -> None:
        """Replace the take-profit by one at trade.take_profit_price without a gap: the new order goes
        under the free id of the pair (TP / TX) first, and the old one is cancelled only once the venue
        accepted it. A venue that allows only one close-position take-profit gets the replacement as a
        reduce-only order for the open quantity; if that is refused too, the old one stays (raises)."""
        old_cid = trade.client_ids.get(Role.TAKE_PROFIT.value) or client_order_id(trade.trade_id, Role.TAKE_PROFIT)
        parsed = parse_client_order_id(old_cid)
        new_role = Role.TAKE_PROFIT_ALT if parsed is not None and parsed[1] is Role.TAKE_PROFIT else Role.TAKE_PROFIT
        assert trade.take_profit_price is not None
        req = self.bracket_request(trade, Role.TAKE_PROFIT, trade.take_profit_price, id_role=new_role)
        try:
            order = await self.submit(trade, new_role, req)
        except OrderWouldTriggerError:
            trade.exit_detail = f"take-profit {trade.take_profit_price} already reached"
            await self.close_now_or_warn(trade, trade.exit_detail)
            return
        except RequestError:
            if not trade.qty:
                raise
            from dataclasses import replace     # (local: keeps this fix apart from the module's imports)
            req = replace(req, close_position=False, quantity=trade.qty, reduce_only=trade.position_side == "BOTH")
            order = await self.submit(trade, new_role, req)
        trade.client_ids[Role.TAKE_PROFIT.value] = req.client_order_id
        trade.order_ids[Role.TAKE_PROFIT.value] = order.order_id
        trade.client_ids.pop(Role.TAKE_PROFIT_ALT.value, None)
        trade.order_ids.pop(Role.TAKE_PROFIT_ALT.value, None)
        await self._cancel_cid(trade, Role.TAKE_PROFIT, old_cid)

    async def close_now_or_warn(self, trade: Trade, why: str) -> bool:
        """Close at market; True when the venue then shows this trade's position flat. Otherwise the
        trade keeps `close_requested` (reconciliation retries the close every cycle) and stays open."""
        trade.close_requested = why or trade.close_requested or "close requested"
        try:
            await self.close_now(trade, why)
            flat = await self.is_flat(trade)
        except ExchangeError as exc:
            log.error("close.failed", f"{trade.symbol}: market close failed ({exc}); the trade stays open and the "
                      "close is retried every cycle until the venue shows the position flat", symbol=trade.symbol,
                      trade_id=trade.trade_id, activity=True)
            return False
        if not flat:
            log.error("close.incomplete", f"{trade.symbol}: a position is still open after the market close; the "
                      "close is retried next cycle", symbol=trade.symbol, trade_id=trade.trade_id, activity=True)
            return False
        trade.close_requested = ""
        return True

    async def is_flat(self, trade: Trade) -> bool:
        positions = await self.ex.positions(trade.symbol)
        return not any(p.position_side.value == trade.position_side and not p.is_flat and p.is_long == trade.is_long
                       for p in positions)

    async def close_now(self, trade: Trade, why: str) -> Order | None:
        """Market close, reduce-only, of whatever the venue holds for this trade's position, in chunks of
        the market lot maximum: the one close routine of bot, guard and dashboard (mraster/safety/closeout.py).
        Every chunk and every retried close gets a client id no earlier order of the trade carried.
        Raises ExchangeError when the venue still holds some of it afterwards."""
        positions = await self.ex.positions(trade.symbol)
        pos = next((p for p in positions if p.position_side.value == trade.position_side and not p.is_flat
                    and p.is_long == trade.is_long), None)
        if pos is None:
            log.info("position.already_flat", f"{trade.symbol}: nothing to close ({why})", symbol=trade.symbol,
                     trade_id=trade.trade_id)
            return None
        ids = lambda n: self.next_client_id(trade, Role.CLOSE)     # noqa: E731 - a new id per order
        result = await close_position(self.ex, pos, ids, send=lambda req: self.submit(trade, Role.CLOSE, req))
        if not result.done:
            raise ExchangeError(f"{trade.symbol}: close incomplete, {result.remaining} still held ({result.error})")
        return result.orders[-1] if result.orders else None


def _position_side(trade: Trade) -> PositionSide:
    return PositionSide(trade.position_side)
