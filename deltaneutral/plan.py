"""Pure decisions of the operator (no I/O): sizing, risk, rotation schedule, leg balancing, pacing.

The seed's risk manager (`strategy/risk_manager.py`) and strategy loop, as functions of what the venue
reports, so every rule is tested on plain values and the runtime only reads, decides and sends.

Definitions (docs/deltaneutral.md):
- leg notional (max) = CAPITAL_USDT x MAX_POSITION_SIZE_PCT / 100 x LEVERAGE (the seed's formula),
  then the venue's filters (step, minimum quantity and notional) round it down;
- net PnL of a pair = both legs' unrealised PnL + funding received - fees paid; stop-loss when its loss
  exceeds STOP_LOSS_PCT of one leg's notional (at entry);
- price drift = |unrealised long + unrealised short| / leg notional (equal legs on one symbol keep it at
  the entry spread); notional imbalance = |long notional - short notional| / leg notional at the mark;
  either beyond MAX_PNL_DRIFT_PCT closes the pair;
- liquidation distance of a leg = |mark - liquidation price| / mark; below LIQ_BUFFER_PCT closes the pair.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from mraster.domain.rules import NoValidOrderError, SymbolRules, snap

ZERO = Decimal(0)
HUNDRED = Decimal(100)
MIN_MS = 60_000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Config:
    capital: Decimal
    leverage: int
    pairs: tuple[str, ...]
    hold_min: float
    size_pct: Decimal
    daily_target: Decimal
    stop_loss_pct: Decimal
    drift_pct: Decimal
    loop_min: float
    liq_buffer_pct: Decimal
    leg_check_s: float
    jitter_pct: float
    weekly_target: Decimal
    short_account: str = ""
    seed: int = 4
    wallet: str = ""

    @classmethod
    def from_values(cls, v: Mapping[str, Any]) -> "Config":
        d = lambda name: Decimal(str(v[name]))  # noqa: E731 - local shorthand
        return cls(capital=d("CAPITAL_USDT"), leverage=int(v["LEVERAGE"]), pairs=tuple(v["TRADING_PAIRS"]),
                   hold_min=float(v["POSITION_HOLD_TIME_MIN"]), size_pct=d("MAX_POSITION_SIZE_PCT"),
                   daily_target=d("DAILY_VOLUME_TARGET"), stop_loss_pct=d("STOP_LOSS_PCT"),
                   drift_pct=d("MAX_PNL_DRIFT_PCT"), loop_min=float(v["LOOP_INTERVAL_MIN"]),
                   liq_buffer_pct=d("LIQ_BUFFER_PCT"), leg_check_s=float(v["LEG_CHECK_SEC"]),
                   jitter_pct=float(v["ROTATION_JITTER_PCT"]), weekly_target=d("WEEKLY_HOLD_TARGET"),
                   short_account=str(v.get("SHORT_ACCOUNT") or "").strip().upper(), seed=int(v["SEED"]),
                   wallet=str(v.get("WALLET_ADDRESS") or ""))

    @property
    def max_leg_notional(self) -> Decimal:
        """The seed's `capital * (max_position_size_pct / 100) * leverage`."""
        return self.capital * self.size_pct / HUNDRED * self.leverage

    @property
    def hold_ms(self) -> int:
        return int(self.hold_min * MIN_MS)

    @property
    def loop_ms(self) -> int:
        return int(self.loop_min * MIN_MS)


# --------------------------------------------------------------------------- sizing
def leg_quantity(cfg: Config, rules: SymbolRules, price: Decimal, variation: float = 0.0) -> Decimal:
    """Quantity of each leg: the maximum notional lowered by `variation` x ROTATION_JITTER_PCT (0..1), within
    the venue's filters. NoValidOrderError when even the venue's minimum order is larger."""
    share = Decimal(str(1.0 - max(0.0, min(1.0, variation)) * cfg.jitter_pct / 100.0))
    return rules.qty_within_notional(cfg.max_leg_notional * share, price, market=True)


def size_problem(cfg: Config, rules: SymbolRules, price: Decimal) -> str:
    """Why no pair can be opened at this size ("" when one can), for the status and the log."""
    try:
        leg_quantity(cfg, rules, price, 0.0)
    except NoValidOrderError as exc:
        return (f"a leg of {cfg.max_leg_notional:.2f} USDT (CAPITAL_USDT x MAX_POSITION_SIZE_PCT / 100 x LEVERAGE) "
                f"is below the venue's minimum order: {exc}")
    return ""


# --------------------------------------------------------------------------- legs and pairs
@dataclass(frozen=True)
class Leg:
    side: str                      # LONG | SHORT
    qty: Decimal                   # > 0
    entry: Decimal
    mark: Decimal
    liquidation: Decimal = ZERO    # 0: unknown
    unrealized: Decimal = ZERO
    account: str = "main"

    @property
    def notional(self) -> Decimal:
        return self.qty * self.mark

    @property
    def liq_distance_pct(self) -> Decimal | None:
        """How far the mark may move toward the liquidation price, in % of the mark (None: unknown)."""
        if self.liquidation <= 0 or self.mark <= 0:
            return None
        gap = self.mark - self.liquidation if self.side == "LONG" else self.liquidation - self.mark
        return gap / self.mark * HUNDRED


@dataclass(frozen=True)
class PairView:
    symbol: str
    long: Leg | None
    short: Leg | None
    fees: Decimal = ZERO           # paid since the pair opened (positive = cost)
    funding: Decimal = ZERO        # received since the pair opened (negative = paid)

    @property
    def empty(self) -> bool:
        return self.long is None and self.short is None

    @property
    def lone(self) -> Leg | None:
        """The leg that is alone (the other is missing), None when both or neither are there."""
        if (self.long is None) == (self.short is None):
            return None
        return self.long or self.short

    @property
    def ref_notional(self) -> Decimal:
        """One leg's notional at entry: the base of every percentage."""
        legs = [leg for leg in (self.long, self.short) if leg is not None]
        return max((leg.qty * leg.entry for leg in legs), default=ZERO)


@dataclass
class Metrics:
    net_pnl: Decimal = ZERO
    net_pnl_pct: Decimal = ZERO
    price_pnl_pct: Decimal = ZERO
    imbalance_pct: Decimal = ZERO
    net_delta_qty: Decimal = ZERO          # long qty - short qty
    net_delta_usdt: Decimal = ZERO         # long notional - short notional at the mark
    liq_distance_pct: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"net_pnl": str(self.net_pnl), "net_pnl_pct": float(self.net_pnl_pct),
                "price_pnl_pct": float(self.price_pnl_pct), "imbalance_pct": float(self.imbalance_pct),
                "net_delta_qty": str(self.net_delta_qty), "net_delta_usdt": float(self.net_delta_usdt),
                "liq_distance_pct": self.liq_distance_pct}


def pair_metrics(pair: PairView) -> Metrics:
    m = Metrics()
    legs = [leg for leg in (pair.long, pair.short) if leg is not None]
    unreal = sum((leg.unrealized for leg in legs), ZERO)
    m.net_pnl = unreal + pair.funding - pair.fees
    base = pair.ref_notional
    lq = pair.long.qty if pair.long else ZERO
    sq = pair.short.qty if pair.short else ZERO
    m.net_delta_qty = lq - sq
    m.net_delta_usdt = (pair.long.notional if pair.long else ZERO) - (pair.short.notional if pair.short else ZERO)
    if base > 0:
        m.net_pnl_pct = m.net_pnl / base * HUNDRED
        m.price_pnl_pct = abs(unreal) / base * HUNDRED
        m.imbalance_pct = abs(m.net_delta_usdt) / base * HUNDRED
    for leg in legs:
        dist = leg.liq_distance_pct
        m.liq_distance_pct[leg.side] = None if dist is None else round(float(dist), 4)
    return m


def risk_reason(pair: PairView, cfg: Config) -> str:
    """Why the pair must be closed now ("" when it may be held), in the order the checks matter."""
    if pair.empty:
        return ""
    if pair.lone is not None:
        return f"lone_leg: the {'SHORT' if pair.long else 'LONG'} leg is missing"
    m = pair_metrics(pair)
    for side, dist in m.liq_distance_pct.items():
        if dist is not None and Decimal(str(dist)) < cfg.liq_buffer_pct:
            return f"liquidation_buffer: {side} leg {dist:.2f} % from its liquidation price (< {cfg.liq_buffer_pct} %)"
    if -m.net_pnl_pct > cfg.stop_loss_pct:
        return f"stop_loss: pair loss {float(-m.net_pnl_pct):.3f} % of leg notional (> {cfg.stop_loss_pct} %)"
    if m.price_pnl_pct > cfg.drift_pct:
        return f"drift: legs' PnL sum {float(m.price_pnl_pct):.3f} % of leg notional (> {cfg.drift_pct} %)"
    if m.imbalance_pct > cfg.drift_pct:
        return f"drift: notional imbalance {float(m.imbalance_pct):.3f} % of leg notional (> {cfg.drift_pct} %)"
    return ""


# --------------------------------------------------------------------------- the loop's decision
@dataclass(frozen=True)
class Decision:
    action: str            # open | close | rotate | hold | wait
    reason: str = ""


def decide(pair: PairView, cfg: Config, now_ms: int, rotate_at_ms: int | None, entry_block: str = "") -> Decision:
    """The seed's loop for one symbol: risky -> close; none -> open; hold reached -> rotate; else hold.
    `entry_block` (kill-switch, pause, size too small) stops opens and rotations, never closes."""
    reason = risk_reason(pair, cfg)
    if reason:
        return Decision("close", reason)
    if pair.empty:
        return Decision("wait", entry_block) if entry_block else Decision("open", "no pair held")
    if rotate_at_ms is not None and now_ms >= rotate_at_ms:
        if entry_block:
            return Decision("hold", f"rotation due, but new pairs are blocked ({entry_block})")
        return Decision("rotate", "hold time reached")
    return Decision("hold", "")


def balance_legs(long_qty: Decimal, short_qty: Decimal, step: Decimal) -> tuple[str, Decimal]:
    """After an open: which leg to trim, and by how much, so both are equal ("" and 0 when they are).
    Trimming the larger leg (never adding to the smaller) cannot raise the exposure."""
    diff = long_qty - short_qty
    if diff == 0:
        return "", ZERO
    qty = snap(abs(diff), step, ZERO, "down") if step > 0 else abs(diff)
    if qty <= 0:
        return "", ZERO
    return ("LONG" if diff > 0 else "SHORT"), qty


# --------------------------------------------------------------------------- schedule and pacing
def rotation_due(opened_ms: int, cfg: Config, variation: float, behind: bool) -> int:
    """When the pair is rotated: never before POSITION_HOLD_TIME_MIN (the multiplier needs it); later by up to
    ROTATION_JITTER_PCT of the hold (`variation` 0..1) unless the day's volume is behind its pace."""
    extra = 0.0 if behind else max(0.0, min(1.0, variation)) * cfg.jitter_pct / 100.0
    return opened_ms + int(cfg.hold_ms * (1.0 + extra))


@dataclass(frozen=True)
class Pacing:
    volume_today: Decimal
    target: Decimal
    remaining: Decimal
    per_rotation: Decimal          # volume of one rotation: close + open of both legs
    rotations_needed: int
    rotations_left: int            # rotations that still fit in the UTC day at the hold time
    expected_by_now: Decimal       # the target's share of the day that has passed
    behind: bool
    reachable: bool

    def to_json(self) -> dict[str, Any]:
        return {"volume_today": float(self.volume_today), "target": float(self.target),
                "remaining": float(self.remaining), "per_rotation": float(self.per_rotation),
                "rotations_needed": self.rotations_needed, "rotations_left": self.rotations_left,
                "expected_by_now": float(self.expected_by_now), "behind": self.behind, "reachable": self.reachable}


def pacing(volume_today: Decimal, cfg: Config, leg_notional: Decimal, now_ms: int) -> Pacing:
    """How the day's volume stands against DAILY_VOLUME_TARGET at the current size and hold time."""
    target = cfg.daily_target
    remaining = max(ZERO, target - volume_today)
    per_rotation = leg_notional * 4
    needed = 0 if remaining <= 0 else (int(remaining / per_rotation) + (remaining % per_rotation > 0)
                                       if per_rotation > 0 else 1 << 30)
    into_day = now_ms % DAY_MS
    left = (DAY_MS - into_day) // max(1, cfg.hold_ms)
    expected = target * Decimal(into_day) / Decimal(DAY_MS)
    return Pacing(volume_today, target, remaining, per_rotation, needed, int(left), expected,
                  behind=volume_today < expected, reachable=needed <= left)
