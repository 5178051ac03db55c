"""The signal of the last closed bar, with every number the dashboard shows, from the shared kernel code.

The decision itself is `mraster.signals.momentum.momentum_side`, the function the backtester's sweep
calls on whole histories (backtest/prep.py), fed by the same kernel features (`ret_bps`, `rs_var`,
`rs_vol_bps`, `rolling_mean`, `previous`, `spread_bps`, `opening_loss_bps`): same function, same
numbers (tests/momentum/test_signal_live.py checks the engine against `momentum_signal` and pandas).

A bar's signal is judged once, at the first loop tick after the bar closed, with the quote and funding
of that moment: the backtester judges a bar with the last quote of that bar, the same thing a second
later at most.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mraster.signals import momentum as mom
from mraster.signals.momentum_params import SymbolParams

from momentum.bars import Bars


@dataclass(frozen=True, slots=True)
class Quote:
    bid: float
    ask: float
    funding_rate: float          # fraction per funding period (markPrice `r`)

    @property
    def spread_bps(self) -> float:
        return float(mom.spread_bps(self.bid, self.ask))

    @property
    def funding_bps(self) -> float:
        return self.funding_rate * 1e4

    def opening_loss(self) -> tuple[float, float]:
        ol_long, ol_short = mom.opening_loss_bps(self.bid, self.ask)
        return float(ol_long), float(ol_short)


@dataclass(frozen=True, slots=True)
class Blockers:
    spread_bps: float
    spread_ok: bool
    funding_bps: float
    funding_ok: bool
    opening_loss_long_bps: float
    opening_loss_short_bps: float
    opening_loss_cap_bps: float
    opening_loss_ok: bool            # for the side the momentum points to (both sides when none)


def blockers(q: Quote | None, p: SymbolParams, direction: int) -> Blockers | None:
    if q is None or not (q.bid > 0 and q.ask > 0):
        return None
    spread = q.spread_bps
    ol_long, ol_short = q.opening_loss()
    cap = float(mom.opening_loss_cap_bps(spread))
    ol = ol_long if direction > 0 else ol_short if direction < 0 else max(ol_long, ol_short)
    return Blockers(spread, spread <= p.spread_max, q.funding_bps, abs(q.funding_bps) <= p.funding_max,
                    ol_long, ol_short, cap, ol <= cap)


@dataclass(frozen=True, slots=True)
class BarSignal:
    """The last closed bar judged: side +1/-1/0 and the numbers behind it."""
    open_time: int | None
    bars: int                        # closed bars held
    warmup_bars: int                 # needed before the first signal
    ret_bps: float | None
    rs_vol_bps: float | None         # RS_vol(T) over the T bars before this one
    threshold_bps: float | None      # k * RS_vol(T)
    volume: float | None
    avg_volume: float | None         # mean volume of the V bars before
    volume_ratio: float | None       # volume / avg_volume (the regime needs > n)
    momentum: int                    # +1/-1 when |ret| beats the threshold, before volume and blockers
    regime_ok: bool
    blockers: Blockers | None
    side: int                        # the decision: momentum_side of the kernel

    @property
    def warm(self) -> bool:
        return self.bars >= self.warmup_bars

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, float) and not math.isfinite(v):
                out[k] = None
        return out


def _num(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def judge(bars: Bars, p: SymbolParams, q: Quote | None) -> BarSignal:
    """The signal of the newest bar in `bars` with the quote `q` (None: no quote, no entry)."""
    need = p.warmup_bars
    a = bars.tail(need)
    held = len(bars)
    if a.shape[1] < need:
        return BarSignal(bars.last_open, held, need, None, None, None, None, None, None, 0, False, None, 0)
    o, h, lo, c, v = a
    ret = mom.ret_bps(o[-1:], c[-1:])[-1]
    vol_prev = mom.previous(mom.rs_vol_bps(mom.rs_var(o, h, lo, c), p.T))[-1]
    avg_prev = mom.previous(mom.rolling_mean(v, p.V))[-1]
    thr = p.k * vol_prev
    momentum = 1 if ret > thr and vol_prev > 0 else -1 if ret < -thr and vol_prev > 0 else 0
    regime = bool(v[-1] > p.n * avg_prev)
    b = blockers(q, p, momentum)
    if b is None:
        side = 0
    else:
        side = int(mom.momentum_side(ret, vol_prev, v[-1], avg_prev, b.spread_bps, b.funding_bps,
                                     b.opening_loss_long_bps, b.opening_loss_short_bps, p.k, p.n, p.spread_max,
                                     p.funding_max))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = v[-1] / avg_prev if avg_prev > 0 else float("nan")
    return BarSignal(bars.last_open, held, need, _num(ret), _num(vol_prev), _num(thr), _num(v[-1]), _num(avg_prev),
                     _num(ratio), momentum, regime, b, side)
