"""Seed 004's delta-neutral operator (package `deltaneutral`): equal LONG and SHORT legs, held past the
venue's hold-time multiplier and rotated for volume. Settings keep the seed's names and defaults; they are
scoped per instance (`MRASTER_<INSTANCE>__LEVERAGE`), so seed 004's bare `LEVERAGE` never meets the
scanner's `ASTER_LEVERAGE`.

One account role: in hedge mode both legs sit on that account (`positionSide` LONG and SHORT). Where the
venue or the user does not allow hedge mode, `SHORT_ACCOUNT` names a second account for the short leg.
The guard leaves the pair alone by default: a stop on one leg would leave the other alone.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mraster.engines.registry import EngineKind
from mraster.settings.schema import FieldSpec

GROUP = "deltaneutral"
HOLD_BONUS_MIN = 90.0          # the venue's hold-time threshold for its 10x multiplier (seed 004)
HOLD_BONUS_MULT = 10.0


def _f(env: str, kind: Any, default: Any, desc: str, **kw: Any) -> FieldSpec:
    return FieldSpec(env, kind, default, desc, GROUP, live=False, **kw)   # read at start: restart to apply


SETTINGS: tuple[FieldSpec, ...] = (
    _f("CAPITAL_USDT", "float", 100.0, "Capital the operator deploys (USDT); sizes every leg.", unit="USDT",
       min=1.0, max=100_000_000.0),
    _f("LEVERAGE", "int", 15, "Leverage set on each traded symbol. 15x means a 6.7 % adverse move liquidates a "
       "leg; start at 5-10x.", unit="x", min=1, max=125),
    _f("TRADING_PAIRS", "symbols", ("BTCUSDT",), "Symbols the operator holds a pair on (JSON list or comma list)."),
    _f("POSITION_HOLD_TIME_MIN", "float", 90.0, "Minutes a pair is held before it is rotated; the venue's 10x "
       "hold-time multiplier needs 90 or more.", unit="min", min=1.0, max=10_080.0),
    _f("MAX_POSITION_SIZE_PCT", "float", 1.5, "Share of capital per leg, before leverage: a leg's notional is "
       "CAPITAL_USDT x pct / 100 x LEVERAGE.", unit="%", min=0.01, max=100.0),
    _f("DAILY_VOLUME_TARGET", "float", 15_000.0, "Traded volume (USDT, both legs, opens and closes) aimed for "
       "per UTC day; rotations are paced toward it.", unit="USDT", min=0.0, max=1_000_000_000.0),
    _f("STOP_LOSS_PCT", "float", 1.0, "Close the pair when its net loss (both legs, fees, funding) exceeds this "
       "share of one leg's notional.", unit="%", min=0.01, max=100.0),
    _f("MAX_PNL_DRIFT_PCT", "float", 0.8, "Close the pair when the legs' price PnL sum, or their notional "
       "imbalance, exceeds this share of one leg's notional (it is no longer neutral).", unit="%",
       min=0.01, max=100.0),
    _f("WALLET_ADDRESS", "str", "", "Wallet address of the account (shown, not required)."),
    _f("LOOP_INTERVAL_MIN", "float", 10.0, "Minutes between strategy cycles (the seed's 10).", unit="min",
       min=0.01, max=1440.0),
    _f("LIQ_BUFFER_PCT", "float", 2.0, "Close the pair before either leg's mark comes within this share of "
       "its liquidation price.", unit="%", min=0.1, max=50.0),
    _f("LEG_CHECK_SEC", "float", 3.0, "Seconds between checks that both legs are still there (a lone leg is "
       "closed at the next check).", unit="s", min=0.2, max=60.0),
    _f("ROTATION_JITTER_PCT", "float", 10.0, "Variation of each rotation: the hold is lengthened and the size "
       "lowered by up to this share (random, seeded), so rotations do not repeat exactly.", unit="%",
       min=0.0, max=50.0),
    _f("WEEKLY_HOLD_TARGET", "float", 200_000.0, "Holding-time equivalent (USDT) aimed for over 7 days (the "
       "seed's 200K).", unit="USDT", min=0.0, max=1_000_000_000_000.0),
    _f("SHORT_ACCOUNT", "str", "", "Empty: both legs on the instance's account in hedge mode. A named account "
       "(e.g. B): the short leg goes there and both accounts trade one-way."),
    _f("SEED", "int", 4, "Seed of the rotation variations.", min=0, max=2_147_483_647),
)

KIND = EngineKind(
    name="deltaneutral",
    title="Delta-neutral operator",
    module="deltaneutral",
    description="Holds equal LONG and SHORT legs past the 90-minute hold-time multiplier and rotates them "
                "for volume; closes the pair on loss, drift or near liquidation, never leaves a leg alone.",
    settings=SETTINGS,
    account_roles=("account",),
    page="operator",
    guard_default="leave",
)


def warnings(values: Mapping[str, Any]) -> list[str]:
    """The seed's warnings for these values, shown where they are edited and at start."""
    out: list[str] = []
    lev = int(values.get("LEVERAGE", 15))
    if lev > 10:
        out.append(f"LEVERAGE={lev}: a {100 / lev:.1f} % adverse move liquidates a leg; the seed advises starting "
                   "at 5-10x and increasing gradually")
    hold = float(values.get("POSITION_HOLD_TIME_MIN", 90.0))
    if hold < HOLD_BONUS_MIN:
        out.append(f"POSITION_HOLD_TIME_MIN={hold:g}: holds under {HOLD_BONUS_MIN:g} minutes miss the venue's "
                   f"{HOLD_BONUS_MULT:g}x hold-time multiplier")
    return out
