"""The guard's decision as a pure function: positions + open orders + intended levels -> actions.

No I/O and no clock. The service fetches the venue's view (the venue is the truth), calls `plan`,
executes the actions in the order given, then plans again on a fresh view until nothing is left.

The rule enforced, per open position: exactly one protective stop and one profit-side exit (a
take-profit, or the trailing stop the strategy chose), on the exit side, reduce-only or
close-position (hedge mode: the closing position side), with the configured working type.
Exit orders are classified by type and side whoever placed them (`classify.py`); our own are
recognised by their client id. A replacement is placed before the order it replaces is cancelled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Mapping

from mraster.domain.brackets import stop_crossed, take_profit_crossed
from mraster.domain.ids import Role, client_order_id, parse_client_order_id, trade_id_for_adopted
from mraster.domain.ownership import DEFAULT_SCANNER, owner_of
from mraster.domain.rules import SymbolRules, fmt
from mraster.domain.types import (
    Order, OrderRequest, OrderType, Position, PositionSide, Side, WorkingType,
)
from mraster.safety.closeout import close_requests  # the one close routine's split (re-exported)

from guard.classify import (
    ExitKind, PositionKey, Slot, exit_key, is_exit_order, is_slot_order, kind_of, rank_key, role_of,
    slot_of,
)

ROLE_IDS: dict[ExitKind, tuple[Role, Role]] = {
    ExitKind.STOP: (Role.STOP, Role.STOP_ALT),
    ExitKind.TAKE_PROFIT: (Role.TAKE_PROFIT, Role.TAKE_PROFIT_ALT),
    ExitKind.TRAILING: (Role.TRAILING, Role.TRAILING_ALT),
}


@dataclass(frozen=True, slots=True)
class Intent:
    """What one position should carry. Levels may be None when unknown (the planner then asks
    for them through `Plan.needs_levels` instead of guessing)."""
    trade_id: str
    stop: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_callback: Decimal | None = None     # percent; set when the strategy chose a trailing stop
    trailing_activation: Decimal | None = None
    profit_kind: ExitKind | None = None          # required kind of profit exit; None: TP or trailing both do
    source: str = "state"                        # "state" (the bot's levels) or "computed" (ATR from settings)


@dataclass(frozen=True, slots=True)
class Flatten:
    """Cancel the orders and close every position at market: the margin kill-switch cancels the
    orders of the symbols with a position; `--flatten` (`every_order`) those of every symbol, so
    that no resting entry opens a position afterwards."""
    role: Role
    reason: str
    event: str
    every_order: bool = False


@dataclass(frozen=True, slots=True)
class Snapshot:
    positions: tuple[Position, ...]
    open_orders: tuple[Order, ...]
    intents: Mapping[PositionKey, Intent] = field(default_factory=dict)
    rules: Mapping[str, SymbolRules] = field(default_factory=dict)
    working_type: WorkingType = WorkingType.MARK_PRICE
    scope: frozenset[str] | None = None          # symbols whose open orders are all listed; None = all
    prices: Mapping[str, Decimal] = field(default_factory=dict)  # trigger price per symbol, if known
    flatten: Flatten | None = None


class ActionKind(str, Enum):
    PLACE = "place"
    CANCEL = "cancel"
    CLOSE = "close"
    CANCEL_ALL = "cancel_all"


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    symbol: str
    event: str                                     # log event: bracket.placed, bracket.repaired, ...
    reason: str
    request: OrderRequest | None = None            # PLACE, CLOSE
    order: Order | None = None                     # CANCEL
    replaces: tuple[Order, ...] = ()               # PLACE: cancel these once the new order rests
    cancel_before: tuple[Order, ...] = ()          # PLACE: cancel these first (they hold the id we need)
    on_would_trigger: tuple[OrderRequest, ...] = ()  # PLACE: send these instead if the venue says "would trigger"
    would_trigger_event: str = ""
    would_trigger_reason: str = ""
    close_if_refused: bool = False                 # PLACE of a stop: if the venue refuses it, close instead


@dataclass(frozen=True, slots=True)
class SlotView:
    order: Order | None = None
    ok: bool = False


@dataclass(frozen=True, slots=True)
class PositionView:
    position: Position
    trade_id: str
    stop: SlotView
    take_profit: SlotView

    @property
    def protected(self) -> bool:
        return self.stop.ok


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[Action, ...]
    views: tuple[PositionView, ...]
    needs_levels: frozenset[PositionKey] = frozenset()
    blocked: tuple[str, ...] = ()                 # repairs that cannot be made (said loudly by the service)

    @property
    def done(self) -> bool:
        return not self.actions


# --------------------------------------------------------------------------- requests
def stop_request(p: Position, cid: str, price: Decimal, wt: WorkingType) -> OrderRequest:
    return OrderRequest(symbol=p.symbol, side=p.exit_side, type=OrderType.STOP_MARKET, client_order_id=cid,
                        stop_price=price, close_position=True, position_side=p.position_side, working_type=wt)


def take_profit_request(p: Position, cid: str, price: Decimal, wt: WorkingType) -> OrderRequest:
    return OrderRequest(symbol=p.symbol, side=p.exit_side, type=OrderType.TAKE_PROFIT_MARKET,
                        client_order_id=cid, stop_price=price, close_position=True,
                        position_side=p.position_side, working_type=wt)


def trailing_request(p: Position, cid: str, callback: Decimal, activation: Decimal | None,
                     wt: WorkingType) -> OrderRequest:
    """Trailing stops cannot be close-position: reduce-only with the position's quantity."""
    return OrderRequest(symbol=p.symbol, side=p.exit_side, type=OrderType.TRAILING_STOP_MARKET,
                        client_order_id=cid, quantity=p.qty, reduce_only=p.position_side is PositionSide.BOTH,
                        position_side=p.position_side, working_type=wt, callback_rate=callback,
                        activation_price=activation)


# --------------------------------------------------------------------------- planning
def plan(snap: Snapshot) -> Plan:
    in_scope = (lambda s: True) if snap.scope is None else (lambda s: s in snap.scope)
    positions = [p for p in snap.positions if not p.is_flat and in_scope(p.symbol)]
    orders = [o for o in snap.open_orders if o.is_open and in_scope(o.symbol)]
    if snap.flatten is not None:
        return _flatten(positions, orders, snap)

    # Exits an engine instance other than the scanner placed (ids `<instance>:...`) are that engine's: the
    # guard never cancels or replaces them (an instance only touches what it owns), and a position carrying
    # them is left to its engine, which keeps its own exits (the momentum engine's stop, take-profit and
    # trailing stop would otherwise look like two orders of one profit slot).
    engine_keys = {exit_key(o) for o in orders if is_exit_order(o) and _engine_owned(o)}
    orders = [o for o in orders if not _engine_owned(o)]
    positions = [p for p in positions if (p.symbol, p.position_side) not in engine_keys]
    keys = {(p.symbol, p.position_side) for p in positions}
    cancels: list[Action] = []
    for o in orders:
        if is_exit_order(o) and exit_key(o) not in keys:
            cancels.append(_cancel(o, "bracket.cancelled",
                                   f"{o.symbol} has no {_side_word(o)}position: leftover exit order "
                                   f"{o.client_order_id} cancelled"))
    planner = _PositionPlanner(snap, orders)
    for p in sorted(positions, key=lambda p: (p.symbol, p.position_side.value)):
        planner.position(p)
    dropped = planner.cancel_before_ids
    cancels = [a for a in cancels if a.order is None or a.order.order_id not in dropped]
    actions = planner.closes + planner.stops + planner.profits + cancels + [
        a for a in planner.cancels if a.order is None or a.order.order_id not in dropped]
    return Plan(actions=tuple(actions), views=tuple(planner.views), needs_levels=frozenset(planner.needs),
                blocked=tuple(planner.blocked))


def _engine_owned(o: Order) -> bool:
    """An exit an engine instance placed under its own id scheme (`<instance>:<tag>.<stamp>`, e.g. the momentum
    engine's `mom1:ETHUSDT.SL.<stamp>`), not a scanner bracket (`mr-<trade>-<role>`, `scan2:<trade>-<role>`,
    which the guard keeps for every scanner instance)."""
    owner = owner_of(o.client_order_id)
    return owner is not None and owner != DEFAULT_SCANNER and parse_client_order_id(o.client_order_id) is None


def _flatten(positions: list[Position], orders: list[Order], snap: Snapshot) -> Plan:
    assert snap.flatten is not None
    actions: list[Action] = []
    by_symbol: dict[str, list[Position]] = {}
    for p in positions:
        by_symbol.setdefault(p.symbol, []).append(p)
    if snap.flatten.every_order:
        for o in orders:
            by_symbol.setdefault(o.symbol, [])
    for symbol in sorted(by_symbol):
        actions.append(Action(ActionKind.CANCEL_ALL, symbol, snap.flatten.event,
                              f"{snap.flatten.reason}: cancelling every {symbol} order"))
        for p in by_symbol[symbol]:
            cid = client_order_id(_trade_id(snap, p), snap.flatten.role)
            for req in close_requests(p, cid, snap.rules.get(symbol)):
                actions.append(Action(ActionKind.CLOSE, symbol, snap.flatten.event,
                                      f"{snap.flatten.reason}: closing {_describe(p)} at market", request=req))
    views = tuple(PositionView(p, _trade_id(snap, p), SlotView(), SlotView()) for p in positions)
    return Plan(actions=tuple(actions), views=views)


def _trade_id(snap: Snapshot, p: Position) -> str:
    intent = snap.intents.get((p.symbol, p.position_side))
    return intent.trade_id if intent is not None else trade_id_for_adopted(p.symbol, p.position_side.value)


class _PositionPlanner:
    """Accumulates the actions for every position of one snapshot (ids allocated across them)."""

    def __init__(self, snap: Snapshot, orders: list[Order]):
        self.snap = snap
        self.orders = orders
        self.occupied: dict[tuple[str, str], Order | None] = {(o.symbol, o.client_order_id): o for o in orders}
        self.closes: list[Action] = []
        self.stops: list[Action] = []
        self.profits: list[Action] = []
        self.cancels: list[Action] = []
        self.views: list[PositionView] = []
        self.needs: set[PositionKey] = set()
        self.cancel_before_ids: set[int] = set()
        self.blocked: list[str] = []

    # ----------------------------------------------------------------- one position
    def position(self, p: Position) -> None:
        key = (p.symbol, p.position_side)
        intent = self.snap.intents.get(key) or Intent(trade_id_for_adopted(p.symbol, p.position_side.value),
                                                       source="computed")
        mine = [o for o in self.orders if o.symbol == p.symbol and is_exit_order(o) and exit_key(o) == key]
        wrong_side = [o for o in mine if o.side is not p.exit_side]
        for o in wrong_side:
            self.cancels.append(_cancel(o, "bracket.cancelled",
                                        f"{o.client_order_id} is a {o.side.value} exit on a "
                                        f"{_long_short(p)} position (wrong side after a flip): cancelled"))
        on_side = [o for o in mine if o.side is p.exit_side and is_slot_order(o)]
        states = [self._rank(p, intent, slot, on_side) for slot in (Slot.STOP, Slot.PROFIT)]
        freeable = {o.order_id for o in wrong_side} | {o.order_id for st in states for o in st.dups}
        price = self._trigger_price(p)
        views, places, close = [], [], []
        for st in states:
            view, place, close = self._fill(p, intent, st, freeable, price)
            views.append(view)
            places.append(place)
            if close:
                break
        if close:      # a level is already crossed: the position goes, nothing is placed for it
            self.closes.extend(close)
            views = [views[0], SlotView()]
        else:
            self.stops.extend([places[0]] if places[0] else [])
            self.profits.extend([places[1]] if places[1] else [])
        self.views.append(PositionView(p, intent.trade_id, views[0], views[1]))

    def _trigger_price(self, p: Position) -> Decimal | None:
        if p.symbol in self.snap.prices:
            return self.snap.prices[p.symbol]
        if self.snap.working_type is WorkingType.MARK_PRICE and p.mark_price > 0:
            return p.mark_price
        return None

    # ---------------------------------------------------------------------- one slot
    def _rank(self, p: Position, intent: Intent, slot: Slot, on_side: list[Order]) -> _SlotState:
        """Keep the best order of the slot; cancel the others."""
        wt = self.snap.working_type
        required = ExitKind.STOP if slot is Slot.STOP else intent.profit_kind
        intended = _intended_price(intent, slot)
        candidates = [o for o in on_side if slot_of(o) is slot]
        ranked = sorted(candidates, key=lambda o: rank_key(o, intent.trade_id, not _problems(o, p, wt, required),
                                                           intended))
        keeper = ranked[0] if ranked else None
        for o in ranked[1:]:
            self.cancels.append(_cancel(o, "bracket.cancelled",
                                        f"duplicate {_name(slot)} {o.client_order_id} on {_describe(p)}: "
                                        f"keeping {keeper.client_order_id}"))  # type: ignore[union-attr]
        problems = _problems(keeper, p, wt, required) if keeper is not None else []
        return _SlotState(slot, required, keeper, tuple(ranked[1:]), tuple(problems))

    def _fill(self, p: Position, intent: Intent, st: _SlotState, freeable: set[int],
              price: Decimal | None) -> tuple[SlotView, Action | None, list[Action]]:
        """The slot's view, the order to place (missing or replacement), and the market close to
        do instead when the level to place is already crossed."""
        keeper, wt = st.keeper, self.snap.working_type
        if keeper is not None and not st.problems:
            return SlotView(keeper, True), None, []
        kind = st.required or ExitKind.TAKE_PROFIT
        if keeper is not None and kind_of(keeper) is kind and _kind_params_known(keeper, kind):
            params = _params_from_order(keeper, kind)          # a repair keeps the resting level
        else:
            params = _params_from_intent(intent, kind)
        if params is None:
            self.needs.add((p.symbol, p.position_side))
            return SlotView(keeper, False), None, []
        params = _rounded(p, kind, params, self.snap.rules.get(p.symbol))
        crossed = _crossed(p, kind, params, price)
        if crossed:
            return SlotView(keeper, False), None, self._close(p, intent, crossed)
        allocated = self._free_id(p, intent.trade_id, kind, keeper, freeable)
        if allocated is None:
            self.blocked.append(f"{_describe(p)}: both client ids of its {_name(kind)} are held by orders the "
                                f"guard may not cancel; nothing placed")
            return SlotView(keeper, False), None, []
        cid, before = allocated
        req = _request(p, cid, kind, params, wt, price)
        if keeper is None:
            event, replaces = "bracket.placed", ()
            reason = f"{_describe(p)} has no {_name(kind)}: placing {_level_text(req)}"
        else:
            event, replaces = "bracket.repaired", tuple(o for o in (keeper,) if o not in before)
            reason = (f"{keeper.client_order_id} on {_describe(p)}: {'; '.join(st.problems)}; replacing it with "
                      f"{_level_text(req)}")
        if kind is ExitKind.TRAILING:
            fallback = (trailing_request(p, cid, params[0], None, wt),) if req.activation_price is not None else ()
            fb_event, fb_reason = event, "venue refused the trailing activation price: placing it active at once"
        else:
            fallback = tuple(a.request for a in self._close(p, intent, "") if a.request is not None)
            fb_event = "position.closed"
            fb_reason = (f"venue says the {_name(kind)} at {fmt(params[0])} would trigger at once: closing "
                         f"{_describe(p)} at market")
        action = Action(ActionKind.PLACE, p.symbol, event, reason, request=req, replaces=replaces,
                        cancel_before=before, on_would_trigger=fallback, would_trigger_event=fb_event,
                        would_trigger_reason=fb_reason, close_if_refused=kind is ExitKind.STOP)
        return SlotView(keeper, False), action, []

    def _close(self, p: Position, intent: Intent, why: str) -> list[Action]:
        cid = client_order_id(intent.trade_id, Role.CLOSE)
        return [Action(ActionKind.CLOSE, p.symbol, "position.closed", f"{why}: closing {_describe(p)} at market",
                       request=req) for req in close_requests(p, cid, self.snap.rules.get(p.symbol))]

    def _free_id(self, p: Position, trade_id: str, kind: ExitKind, keeper: Order | None,
                 freeable: set[int]) -> tuple[str, tuple[Order, ...]] | None:
        """The first id of the role pair not held by an open order (the adopted trade's pair as a
        reserve). When all are held, free one held by an order cancelled anyway (duplicate, wrong
        side), or as a last resort the order being replaced. Never an entry, never a keeper of
        another slot. None when no id can be had."""
        trades = dict.fromkeys([trade_id, trade_id_for_adopted(p.symbol, p.position_side.value)])
        cids = [client_order_id(t, role) for t in trades for role in ROLE_IDS[kind]]
        for cid in cids:
            if (p.symbol, cid) not in self.occupied:
                self.occupied[(p.symbol, cid)] = None
                return cid, ()
        keeper_id = keeper.order_id if keeper is not None else None
        for wanted in (freeable, {keeper_id}):
            for cid in cids:
                holder = self.occupied[(p.symbol, cid)]
                if holder is not None and holder.order_id in wanted and holder.order_id not in self.cancel_before_ids:
                    self.cancel_before_ids.add(holder.order_id)
                    self.occupied[(p.symbol, cid)] = None
                    return cid, (holder,)
        return None


@dataclass(frozen=True, slots=True)
class _SlotState:
    slot: Slot
    required: ExitKind | None
    keeper: Order | None
    dups: tuple[Order, ...]
    problems: tuple[str, ...]


# --------------------------------------------------------------------------- helpers
def _problems(o: Order, p: Position, wt: WorkingType, required: ExitKind | None) -> list[str]:
    """Why a resting exit order does not satisfy the rule (empty: it does)."""
    out = []
    kind = kind_of(o)
    if required is not None and kind is not required:
        out.append(f"it is a {kind.value.replace('_', '-')} where the strategy chose a "
                   f"{required.value.replace('_', '-')}")
    if o.working_type is not wt:
        out.append(f"working type {o.working_type.value}, configured {wt.value}")
    if not o.close_position and o.remaining_qty != p.qty:
        out.append(f"quantity {fmt(o.remaining_qty)} for a position of {fmt(p.qty)}")
    return out


def _intended_price(intent: Intent, slot: Slot) -> Decimal | None:
    return intent.stop if slot is Slot.STOP else intent.take_profit


def _kind_params_known(o: Order, kind: ExitKind) -> bool:
    if kind is ExitKind.TRAILING:
        return o.price_rate is not None and o.price_rate > 0
    return o.stop_price > 0


Params = tuple[Decimal, Decimal | None]   # (stop price or callback rate, activation price)


def _params_from_order(o: Order, kind: ExitKind) -> Params:
    if kind is ExitKind.TRAILING:
        assert o.price_rate is not None
        return o.price_rate, o.activate_price if o.activate_price and o.activate_price > 0 else None
    return o.stop_price, None


def _params_from_intent(intent: Intent, kind: ExitKind) -> Params | None:
    if kind is ExitKind.TRAILING:
        return (intent.trailing_callback, intent.trailing_activation) if intent.trailing_callback else None
    level = intent.stop if kind is ExitKind.STOP else intent.take_profit
    return (level, None) if level is not None and level > 0 else None


def _crossed(p: Position, kind: ExitKind, params: Params, price: Decimal | None) -> str:
    """Why placing this exit would trigger at once ("" if it would not, or the price is unknown)."""
    if price is None or price <= 0 or kind is ExitKind.TRAILING:
        return ""
    level = params[0]
    if kind is ExitKind.STOP and stop_crossed(p.side, level, price):
        return f"stop level {fmt(level)} already crossed (trigger price {fmt(price)})"
    if kind is ExitKind.TAKE_PROFIT and take_profit_crossed(p.side, level, price):
        return f"take-profit level {fmt(level)} already reached (trigger price {fmt(price)})"
    return ""


def _rounded(p: Position, kind: ExitKind, params: Params, rules: SymbolRules | None) -> Params:
    """Levels on the tick grid: down for a long's exits, up for a short's (the stop away from the
    entry, the take-profit toward it), as `mraster.domain.brackets` rounds them."""
    if rules is None:
        return params
    mode = "down" if p.side is Side.BUY else "up"
    level, activation = params
    if kind is ExitKind.TRAILING:
        return level, rules.round_price(activation, "nearest") if activation is not None else None
    return rules.round_price(level, mode), activation


def _request(p: Position, cid: str, kind: ExitKind, params: Params, wt: WorkingType,
             price: Decimal | None) -> OrderRequest:
    level, activation = params
    if kind is ExitKind.TRAILING:
        passed = activation is not None and price is not None and price > 0 and (
            price >= activation if p.side is Side.BUY else price <= activation)
        return trailing_request(p, cid, level, None if passed else activation, wt)
    build = stop_request if kind is ExitKind.STOP else take_profit_request
    return build(p, cid, level, wt)


def _name(x: Slot | ExitKind) -> str:
    return x.value.replace("_", "-")


def _cancel(o: Order, event: str, reason: str) -> Action:
    return Action(ActionKind.CANCEL, o.symbol, event, reason, order=o)


def _long_short(p: Position) -> str:
    return "long" if p.is_long else "short"


def _describe(p: Position) -> str:
    hedge = "" if p.position_side is PositionSide.BOTH else f" ({p.position_side.value})"
    return f"{p.symbol} {_long_short(p)} {fmt(p.qty)}{hedge}"


def _side_word(o: Order) -> str:
    return "" if o.position_side is PositionSide.BOTH else f"{o.position_side.value} "


def _level_text(req: OrderRequest) -> str:
    if req.type is OrderType.TRAILING_STOP_MARKET:
        act = f", activation {fmt(req.activation_price)}" if req.activation_price is not None else ""
        return f"{req.client_order_id} trailing {fmt(req.callback_rate or Decimal(0))}%{act}"
    return f"{req.client_order_id} {req.type.value} at {fmt(req.stop_price or Decimal(0))}"


__all__ = [
    "Action", "ActionKind", "ExitKind", "Flatten", "Intent", "Plan", "PositionKey", "PositionView", "ROLE_IDS",
    "Slot", "SlotView", "Snapshot", "close_requests", "plan", "role_of", "stop_request", "take_profit_request",
    "trailing_request",
]
