"""The coordinator's decisions as pure functions: market and executor views in, instructions out.

Cycle (seed 003): phase 1 drives B to its maximum long and C to its maximum short, phase 2 the
reverse; the phase turns when both are within one maker step of their targets. Target: each
executor holds a configured position within a tolerance band. Both strategies place post-only maker
orders of `maker_step_btc` toward the target, at the opposite touch moved `maker_price_offset` to the
passive side, never more than the target allows counting what already rests; and both rebalance the
net exposure B + C with a taker order as soon as it exceeds the cap (`exposure_cap`).

Quantities and prices are Decimals on the symbol's grid; no I/O, no clock, no randomness of its own
(the caller passes `now_ms`, the random delays and the id maker), so every rule is tested alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Callable, Literal

Side = Literal["BUY", "SELL"]
SERVERS = ("B", "C")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Book:
    """The touch and the symbol's grid."""
    bid: Decimal
    ask: Decimal
    tick: Decimal = Decimal("0.1")
    lot: Decimal = Decimal("0.001")

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


@dataclass(frozen=True)
class Resting:
    """A maker order an executor reports as open: what is left of it."""
    client_id: str
    side: Side
    qty: Decimal
    price: Decimal
    age_s: float = 0.0


@dataclass(frozen=True)
class ExecView:
    """What the coordinator knows of one executor at decision time."""
    name: str
    position: Decimal
    max_usd: Decimal
    resting: tuple[Resting, ...] = ()
    healthy: bool = True          # answered this round, active, not emergency-stopped

    def resting_qty(self, side: Side) -> Decimal:
        return sum((r.qty for r in self.resting if r.side == side), ZERO)

    def committed(self) -> Decimal:
        """Position plus everything resting, signed: where it ends if every maker order fills."""
        return self.position + self.resting_qty("BUY") - self.resting_qty("SELL")


@dataclass(frozen=True)
class Params:
    step: Decimal = Decimal("0.002")
    offset: Decimal = Decimal("0.1")
    expire_s: float = 30.0
    delay_max_s: float = 5.0
    ratio: Decimal = Decimal("0.04")
    strategy: Literal["cycle", "target"] = "cycle"
    targets: tuple[tuple[str, Decimal], ...] = (("B", Decimal("0.02")), ("C", Decimal("-0.02")))
    tolerance: Decimal = Decimal("0.002")


@dataclass(frozen=True)
class Maker:
    server: str
    side: Side
    qty: Decimal
    price: Decimal
    expire_s: float
    delay_s: float
    client_id: str
    kind: Literal["maker"] = "maker"


@dataclass(frozen=True)
class Taker:
    server: str
    side: Side
    qty: Decimal
    reduce_only: bool
    client_id: str
    kind: Literal["taker"] = "taker"


@dataclass(frozen=True)
class Cancel:
    server: str
    client_id: str
    kind: Literal["cancel"] = "cancel"


Instruction = Maker | Taker | Cancel


@dataclass(frozen=True)
class CycleState:
    phase: int = 1                 # 1: B long, C short; 2: B short, C long
    since_ms: int = 0
    turns: int = 0


@dataclass(frozen=True)
class Decision:
    state: CycleState
    targets: dict[str, Decimal]
    net: Decimal
    cap: Decimal
    instructions: list[Instruction] = field(default_factory=list)
    mode: str = "trading"          # trading | holding (why in `reason`)
    reason: str = ""


# ------------------------------------------------------------------ grid helpers
def floor_to(x: Decimal, grid: Decimal) -> Decimal:
    return (x / grid).to_integral_value(rounding=ROUND_FLOOR) * grid


def ceil_to(x: Decimal, grid: Decimal) -> Decimal:
    return (x / grid).to_integral_value(rounding=ROUND_CEILING) * grid


def max_qty(max_usd: Decimal, price: Decimal, lot: Decimal) -> Decimal:
    """The largest position (on the lot grid) whose notional at `price` stays within `max_usd`."""
    if price <= 0 or max_usd <= 0:
        return ZERO
    return floor_to(max_usd / price, lot)


def passive_price(side: Side, book: Book, offset: Decimal) -> Decimal:
    """Buy at ask - offset, sell at bid + offset, rounded away from the touch; never at or through the
    opposite touch (post-only would be refused), so at worst one tick inside it."""
    if side == "BUY":
        price = floor_to(book.ask - offset, book.tick)
        return min(price, book.ask - book.tick)
    price = ceil_to(book.bid + offset, book.tick)
    return max(price, book.bid + book.tick)


# ------------------------------------------------------------------ the rules
def cycle_targets(phase: int, max_b: Decimal, max_c: Decimal) -> dict[str, Decimal]:
    return {"B": max_b, "C": -max_c} if phase == 1 else {"B": -max_b, "C": max_c}


def reached(views: dict[str, ExecView], targets: dict[str, Decimal], step: Decimal) -> bool:
    """Every executor within one maker step of its target (no further step would fit)."""
    return all(abs(targets[n] - views[n].position) < step for n in targets)


def next_state(state: CycleState, views: dict[str, ExecView], targets: dict[str, Decimal], step: Decimal,
               now_ms: int) -> CycleState:
    if reached(views, targets, step):
        return CycleState(2 if state.phase == 1 else 1, now_ms, state.turns + 1)
    return state


def exposure_cap(positions: dict[str, Decimal], ratio: Decimal, step: Decimal) -> Decimal:
    """The net exposure allowed: `ratio` of the gross position, but never less than one maker step (one
    leg's maker fill waits for the other leg's before a taker order is paid)."""
    gross = sum((abs(p) for p in positions.values()), ZERO)
    return max(ratio * gross, step)


def over_cap(positions: dict[str, Decimal], ratio: Decimal, step: Decimal) -> bool:
    net = sum(positions.values(), ZERO)
    return abs(net) > exposure_cap(positions, ratio, step)


def headroom(view: ExecView, side: Side, limit: Decimal) -> Decimal:
    """How much more `view` may buy (or sell) before position + resting orders on that side pass its limit."""
    committed = view.position + (view.resting_qty("BUY") if side == "BUY" else -view.resting_qty("SELL"))
    room = limit - committed if side == "BUY" else limit + committed
    return max(ZERO, room)


def rebalance(views: dict[str, ExecView], targets: dict[str, Decimal], limits: dict[str, Decimal],
              params: Params, book: Book, ids: Callable[[str], str]) -> list[Taker]:
    """Taker orders that bring B + C back to zero when it is over the cap: first on the executor whose target
    lies in the needed direction (it advances its cycle), the rest on the other (it gives some back), each
    within its room (position plus resting orders within its limit). Empty when within the cap."""
    positions = {n: v.position for n, v in views.items()}
    net = sum(positions.values(), ZERO)
    if not over_cap(positions, params.ratio, params.step):
        return []
    side: Side = "SELL" if net > 0 else "BUY"
    want = floor_to(abs(net), book.lot)
    sign = 1 if side == "BUY" else -1

    def preference(name: str) -> tuple[int, str]:
        toward = (targets[name] - views[name].position) * sign > 0
        return (0 if toward else 1, name)

    out: list[Taker] = []
    for name in sorted(views, key=preference):
        view = views[name]
        if not view.healthy or want <= 0:
            continue
        qty = min(want, floor_to(headroom(view, side, limits[name]), book.lot))
        if qty <= 0:
            continue
        reduces = (view.position > 0 and side == "SELL" or view.position < 0 and side == "BUY") \
            and qty <= abs(view.position)
        out.append(Taker(name, side, qty, reduces, ids(f"{name}.tk")))
        want -= qty
    return out


def maker_for(view: ExecView, target: Decimal, params: Params, book: Book, delay_s: float,
              ids: Callable[[str], str], band: Decimal) -> Maker | None:
    """One maker step toward `target` when position plus resting orders are more than `band` away."""
    gap = target - view.committed()
    if abs(gap) <= band or abs(target - view.position) <= band:
        return None
    side: Side = "BUY" if gap > 0 else "SELL"
    qty = floor_to(min(params.step, abs(gap)), book.lot)
    if qty <= 0:
        return None
    return Maker(view.name, side, qty, passive_price(side, book, params.offset), params.expire_s, delay_s,
                 ids(f"{view.name}.mk"))


def wrong_way(view: ExecView, target: Decimal) -> list[Cancel]:
    """Resting orders that move away from the target (left over from the other phase)."""
    need = target - view.position
    return [Cancel(view.name, r.client_id) for r in view.resting
            if (r.side == "BUY" and need <= 0) or (r.side == "SELL" and need >= 0)]


def decide(state: CycleState, book: Book | None, views: dict[str, ExecView | None], params: Params, now_ms: int,
           delays: Callable[[], float], ids: Callable[[str], str]) -> Decision:
    """One decision round. Holds (no maker order) when the market or an executor is unknown; still
    rebalances through the executors it can reach."""
    known = {n: v for n, v in views.items() if v is not None}
    if book is None or book.bid <= 0 or book.ask <= book.bid:
        return Decision(state, {}, ZERO, ZERO, mode="holding", reason="no valid book ticker")
    limits = {n: max_qty(v.max_usd, book.mid, book.lot) for n, v in known.items()}
    if params.strategy == "cycle":
        targets = cycle_targets(state.phase, limits.get("B", ZERO), limits.get("C", ZERO))
    else:
        wanted = dict(params.targets)
        targets = {n: max(-limits.get(n, ZERO), min(limits.get(n, ZERO), wanted.get(n, ZERO))) for n in SERVERS}
    positions = {n: v.position for n, v in known.items()}
    net = sum(positions.values(), ZERO)
    cap = exposure_cap(positions, params.ratio, params.step)
    missing = [n for n in SERVERS if n not in known or not known[n].healthy]
    out: list[Instruction] = []
    if len(known) == len(SERVERS):
        out += rebalance(known, targets, limits, params, book, ids)
    if missing:
        return Decision(state, targets, net, cap, out, "holding", f"executor {', '.join(missing)} not available")
    assert len(known) == len(SERVERS)
    if params.strategy == "cycle":
        new_state = next_state(state, known, targets, params.step, now_ms)
        if new_state.phase != state.phase:
            state = new_state
            targets = cycle_targets(state.phase, limits["B"], limits["C"])
        band = ZERO
    else:
        band = params.tolerance
    for name in SERVERS:
        view = known[name]
        out += wrong_way(view, targets[name])
        if any(isinstance(i, Taker) for i in out):
            continue                # rebalance first; the next round places makers on the new positions
        fresh = replace(view, resting=tuple(r for r in view.resting
                                            if not any(isinstance(i, Cancel) and i.client_id == r.client_id
                                                       for i in out)))
        m = maker_for(fresh, targets[name], params, book, delays(), ids, band)
        if m is not None:
            out.append(m)
    return Decision(state, targets, net, cap, out)
