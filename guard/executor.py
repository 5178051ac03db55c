"""Carries out a plan's actions through the Exchange interface, in order, and logs each with its reason.

Venue answers that are part of normal life are handled here:
- a cancel of an order that is already gone is fine;
- a placement whose client id already rests (another actor was first, or an earlier attempt of
  ours landed) counts as placed when the resting order is the same kind of order;
- "would trigger at once" sends the planner's fallback (a market close, or a trailing stop without
  its activation price);
- a venue that refuses to hold the replacement next to the order it replaces (some venues allow
  one close-position stop per side) gets cancel-then-place instead;
- a stop the venue refuses outright (a filter, a precision) means the position cannot be
  protected: it is closed at market, as the bot does when its stop cannot be placed;
- "reduce-only rejected" means the position is gone: the next round cleans up.
Client ids: every market close (each chunk, each round that tries again) gets a new id at send time
(`mraster.domain.ids.FreshIds`, actor `g`), and a bracket whose planned id this guard already sent
once gets a new one too, so no id names two orders and a look-up by id never finds an old one. The
planned first ids (`SL`, `SX`, ...) are kept otherwise: a bot and a guard placing the same bracket
at once collide on them and only one rests.
Any other refusal fails that action only. Transient errors (RetryableError and its rate-limit and
ban children) and AuthError propagate: the service backs off and plans again from the venue's
view, so a half-done plan is never resumed blind.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable

from mraster.domain.ids import FreshIds, fresh_ids, parse_client_order_id
from mraster.domain.rules import fmt
from mraster.domain.types import Order, OrderRequest, OrderType
from mraster.exchange.errors import (
    DuplicateClientOrderIdError, InsufficientMarginError, InvalidTimestampError, OrderWouldTriggerError,
    ReduceOnlyRejectedError, RequestError, UnknownOrderError,
)
from mraster.exchange.interface import Exchange
from mraster.logs import EventLogger, get_logger

from guard.bounded import LruDict, LruSet
from guard.planner import Action, ActionKind

_LEVELS = {"position.closed": "warning", "kill_switch": "error", "flatten": "warning"}

Recorder = Callable[[Action, str], None]     # (action, what happened) -> None


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    ok: bool
    detail: str = ""
    traded: bool = False          # a market order was sent: the position changed


ECHO_TTL_S = 10.0
ECHOES_MAX = 2000          # expected echoes kept (each expires after ECHO_TTL_S anyway)
REFUSALS_MAX = 1000        # (order, reason) pairs already said at ERROR
SENT_MAX = 5000            # planned bracket ids this process has sent (a second use gets a fresh id)


class Executor:
    def __init__(self, exchange: Exchange, *, log: EventLogger | None = None, record: Recorder | None = None,
                 monotonic: Callable[[], float] = time.monotonic, ids: FreshIds | None = None):
        self.exchange = exchange
        self.log = log or get_logger("guard")
        self.record = record or (lambda action, what: None)
        self.monotonic = monotonic
        self._echoes: LruDict[tuple[str, str], float] = LruDict(ECHOES_MAX)  # (id, status) -> expiry
        self._refusals: LruSet[str] = LruSet(REFUSALS_MAX)
        self.ids = ids or fresh_ids("guard")
        self._sent: LruSet[tuple[str, str]] = LruSet(SENT_MAX)   # (symbol, planned client id)

    def fresh(self, req: OrderRequest) -> OrderRequest:
        """`req` under a client id no earlier order carried (same trade and role as planned). An id
        that cannot be parsed or made (a foreign or too long id) is kept as planned."""
        parsed = parse_client_order_id(req.client_order_id)
        if parsed is None:
            return req
        try:
            cid = self.ids(parsed[0], parsed[1], req.position_side.value)
        except ValueError:
            return req
        return replace(req, client_order_id=cid)

    def is_echo(self, order: Order) -> bool:
        """Is this order event the venue telling us about our own placement or cancel? (Those need no
        new check: the action is verified by the round that follows it.) Each echo is matched once."""
        self._prune()
        status = order.status.value
        for key in (("cid:" + order.client_order_id, status), (f"id:{order.order_id}", status)):
            if key in self._echoes:
                del self._echoes[key]
                return True
        return False

    def _expect(self, ref: str, status: str) -> None:
        self._prune()           # also without events (no stream), expired expectations go
        self._echoes[(ref, status)] = self.monotonic() + ECHO_TTL_S

    def _prune(self) -> None:
        now = self.monotonic()
        for key, until in self._echoes.items():
            if until < now:
                del self._echoes[key]

    async def run(self, actions: tuple[Action, ...] | list[Action]) -> list[Outcome]:
        """Every action in order. One the venue refuses does not hold up the others (said once per
        order and reason at ERROR); transient errors and a stale clock propagate to the service."""
        out = []
        for a in actions:
            try:
                out.append(await self.one(a))
            except (RequestError, InsufficientMarginError) as exc:
                if isinstance(exc, InvalidTimestampError):
                    raise
                key = f"{a.request.client_order_id if a.request else a.symbol}:{exc.code}"
                say = self.log.debug if key in self._refusals else self.log.error
                self._refusals.add(key)
                say("guard.refused", f"the venue refused this: {a.reason} ({exc})", symbol=a.symbol,
                    error=str(exc), activity=True)
                out.append(Outcome(a, False, str(exc)))
        return out

    async def one(self, a: Action) -> Outcome:
        if a.kind is ActionKind.CANCEL:
            assert a.order is not None
            gone = await self._cancel(a.order)
            self._say(a, a.reason + (" (it was already gone)" if gone else ""), client_id=a.order.client_order_id,
                      order_id=a.order.order_id)
            return Outcome(a, True)
        if a.kind is ActionKind.CANCEL_ALL:
            await self.exchange.cancel_all(a.symbol)
            self._say(a, a.reason)
            return Outcome(a, True)
        if a.kind is ActionKind.CLOSE:
            assert a.request is not None
            return await self._close(a, a.request, a.event, a.reason)
        return await self._place(a)

    # ------------------------------------------------------------------ pieces
    async def _cancel(self, o: Order) -> bool:
        """True when the order was already gone."""
        self._expect(f"id:{o.order_id}", "CANCELED")
        try:
            await self.exchange.cancel_order(o.symbol, order_id=o.order_id)
            return False
        except UnknownOrderError:
            return True

    async def _close(self, a: Action, req: OrderRequest, event: str, reason: str) -> Outcome:
        req = self.fresh(req)            # each chunk and each later round: its own id
        try:
            order = await self.exchange.place_order(req)
        except ReduceOnlyRejectedError as exc:
            self.log.info("guard.close_skipped", f"{req.symbol}: nothing left to close ({exc})", symbol=req.symbol,
                          client_id=req.client_order_id)
            return Outcome(a, False, "nothing to close")
        self._say(a, reason, event=event, client_id=req.client_order_id, order_id=order.order_id,
                  qty=fmt(req.quantity) if req.quantity is not None else None, status=order.status.value)
        return Outcome(a, True, traded=True)

    async def _place(self, a: Action) -> Outcome:
        req = a.request
        assert req is not None
        if (req.symbol, req.client_order_id) in self._sent:     # sent once already: that order may be finished
            req = self.fresh(req)
            if req is not a.request:      # the new id is free: what held the planned one goes after, not before
                a = replace(a, request=req, replaces=a.replaces + a.cancel_before, cancel_before=(),
                            on_would_trigger=tuple(f if f.type is OrderType.MARKET else
                                                   replace(f, client_order_id=req.client_order_id)
                                                   for f in a.on_would_trigger))
        else:
            self._sent.add((req.symbol, req.client_order_id))
        for o in a.cancel_before:
            await self._cancel(o)
            self.log.info("bracket.cancelled", f"{o.client_order_id} cancelled first: its client id is needed for "
                          f"the new order", symbol=o.symbol, client_id=o.client_order_id, order_id=o.order_id)
        try:
            order = await self._send(req)
        except OrderWouldTriggerError as exc:
            if not a.on_would_trigger:
                raise
            self.log.warning("guard.would_trigger", f"{req.client_order_id}: {exc}", symbol=req.symbol,
                             client_id=req.client_order_id)
            return await self._fallback(a, a.would_trigger_event, a.would_trigger_reason)
        except ReduceOnlyRejectedError as exc:
            self.log.info("guard.place_skipped", f"{req.client_order_id} refused as the position is gone ({exc})",
                          symbol=req.symbol, client_id=req.client_order_id)
            return Outcome(a, False, "position gone")
        except (RequestError, InsufficientMarginError) as exc:
            if isinstance(exc, (DuplicateClientOrderIdError, InvalidTimestampError)):
                raise
            try:
                if not a.replaces:
                    raise
                self.log.warning("guard.cancel_then_place", f"venue refused {req.client_order_id} next to the order "
                                 f"it replaces ({exc}); cancelling that one first", symbol=req.symbol,
                                 client_id=req.client_order_id)
                for o in a.replaces:
                    await self._cancel(o)
                order = await self._send(req)
            except (RequestError, InsufficientMarginError) as refused:
                if not (a.close_if_refused and a.on_would_trigger) or isinstance(refused, InvalidTimestampError):
                    raise
                return await self._fallback(a, "position.closed", f"the venue refused the stop "
                                            f"{req.client_order_id} ({refused}): closing {req.symbol} at market "
                                            f"rather than leaving the position without a stop")
            self._say(a, a.reason, client_id=req.client_order_id, order_id=order.order_id)
            return Outcome(a, True)
        if not _matches(order, req):
            self.log.warning("guard.id_taken", f"client id {req.client_order_id} is held by a different order "
                             f"({order.side.value} {order.placed_type.value}, {order.status.value}); planning again",
                             symbol=req.symbol, client_id=req.client_order_id, order_id=order.order_id)
            return Outcome(a, False, "client id held by a different order")
        for o in a.replaces:
            await self._cancel(o)
        self._say(a, a.reason, client_id=req.client_order_id, order_id=order.order_id, type=req.type.value,
                  stop_price=fmt(req.stop_price) if req.stop_price is not None else None,
                  replaced=[o.client_order_id for o in a.replaces] or None)
        return Outcome(a, True)

    async def _fallback(self, a: Action, event: str, reason: str) -> Outcome:
        """Send the action's fallback: a market close (chunks), or a trailing stop without activation."""
        outcome = Outcome(a, False, "no fallback")
        for fallback in a.on_would_trigger:
            if fallback.type is OrderType.MARKET:
                outcome = await self._close(a, fallback, event, reason)
            else:
                await self._send(fallback)
                self._say(a, reason, event=event, client_id=fallback.client_order_id)
                outcome = Outcome(a, True)
        return outcome

    async def _send(self, req: OrderRequest) -> Order:
        """Place; an id that already rests is looked up and returned (the never-double rule)."""
        if req.type is not OrderType.MARKET:
            self._expect("cid:" + req.client_order_id, "NEW")
        try:
            return await self.exchange.place_order(req)
        except DuplicateClientOrderIdError:
            return await self.exchange.get_order(req.symbol, client_order_id=req.client_order_id)

    def _say(self, a: Action, reason: str, *, event: str | None = None, **fields) -> None:
        event = event or a.event
        say = getattr(self.log, _LEVELS.get(event, "info"))
        fields = {k: v for k, v in fields.items() if v is not None}
        say(event, reason, symbol=a.symbol, reason=reason, activity=True, **fields)
        self.record(a, reason)


def _matches(order: Order, req: OrderRequest) -> bool:
    """Is the order resting under this client id the one we meant to place?"""
    return (order.symbol == req.symbol and order.side is req.side and order.placed_type is req.type
            and order.position_side is req.position_side and order.is_open)
