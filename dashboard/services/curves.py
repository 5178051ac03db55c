"""Pure curve math for the equity view: drawdown, maximum drawdown, an engine's cumulative PnL, and the
thinning that keeps months of samples small. No I/O: the equity service reads and stores, these compute.

A point is `(time_ms, value)`. Thinning keeps, per time bucket, the lowest and the highest point (each with
its own time, in order), so peaks and troughs survive and a drawdown measured on the thinned curve is the
drawdown of the full one to within a bucket.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

Point = tuple[int, float]
MINUTE_MS, HOUR_MS, DAY_MS = 60_000, 3_600_000, 86_400_000
# (older than, one bucket of): samples younger than a day are all kept; then 5 min, 1 h, 1 day buckets
TIERS: tuple[tuple[int, int], ...] = ((DAY_MS, 5 * MINUTE_MS), (7 * DAY_MS, HOUR_MS), (90 * DAY_MS, DAY_MS))


def drawdowns(points: Sequence[Point], relative: bool = True) -> list[tuple[int, float, float | None]]:
    """(time, value - running peak (<= 0), the same in % of the peak; None when the peak is not positive or
    the curve is not `relative` (a PnL curve, whose % of a peak means nothing))."""
    out: list[tuple[int, float, float | None]] = []
    peak = -math.inf
    for t, v in points:
        peak = max(peak, v)
        pct = round((v - peak) / peak * 100, 6) if relative and peak > 0 else None
        out.append((t, round(v - peak, 8), pct))
    return out


def max_drawdown(points: Sequence[Point], relative: bool) -> dict[str, Any]:
    """The deepest fall from a running peak: by % of the peak (`relative`, for account equity) or by amount
    (an engine's cumulative PnL starts at 0, where % means nothing). Zeros when the curve never fell."""
    best: dict[str, Any] = {"amount": 0.0, "pct": 0.0 if relative else None, "peak_ms": None, "trough_ms": None,
                            "peak": None, "trough": None}
    peak_t, peak = 0, -math.inf
    depth = 0.0
    for t, v in points:
        if v > peak:
            peak_t, peak = t, v
            continue
        fall = v - peak
        pct = fall / peak * 100 if relative and peak > 0 else None
        score = (pct if pct is not None else 0.0) if relative else fall
        if score < depth:
            depth = score
            best = {"amount": round(fall, 8), "pct": None if pct is None else round(pct, 6), "peak_ms": peak_t,
                    "trough_ms": t, "peak": peak, "trough": v}
    return best


def pnl_curve(rows: Iterable[dict[str, Any]]) -> list[Point]:
    """Cumulative realized net PnL (after fees and funding) of closed trades, one point per exit, from 0 at
    the first trade's entry."""
    closed = sorted((r for r in rows if r.get("exit_time_ms") and r.get("net_pnl") is not None),
                    key=lambda r: (r["exit_time_ms"], str(r.get("trade_id"))))
    if not closed:
        return []
    start = min(int(r.get("entry_time_ms") or r["exit_time_ms"]) for r in closed)
    total, out = 0.0, [(min(start, int(closed[0]["exit_time_ms"])), 0.0)]
    for r in closed:
        total += float(r["net_pnl"])
        out.append((int(r["exit_time_ms"]), round(total, 8)))
    return out


def thin(points: Sequence[Point], bucket_ms: int) -> list[Point]:
    """The lowest and the highest point of each `bucket_ms` bucket (by time, aligned to the epoch, so
    thinning twice changes nothing), in time order; the first and the last point are always kept."""
    if bucket_ms <= 0 or len(points) <= 2:
        return list(points)
    return sorted({points[0], points[-1], *thin_strict(points, bucket_ms)})


def fit(points: Sequence[Point], max_points: int) -> list[Point]:
    """At most about `max_points` for a chart, thinned with buckets as wide as that needs."""
    if len(points) <= max_points or max_points < 4:
        return list(points)
    span = points[-1][0] - points[0][0]
    return thin(points, max(1, math.ceil(span / (max_points // 2 - 1))))


def tier_of(age_ms: int, tiers: Sequence[tuple[int, int]] = TIERS) -> int:
    """The index of the oldest tier a sample of this age falls in, -1 for a sample kept as it is."""
    found = -1
    for i, (older_than, _) in enumerate(tiers):
        if age_ms >= older_than:
            found = i
    return found


def retained(points: Sequence[Point], now_ms: int, tiers: Sequence[tuple[int, int]] = TIERS) -> list[Point]:
    """What a store keeps of `points` at `now_ms`: everything younger than the first tier, and of each
    older tier the lowest and highest sample per bucket of that tier."""
    groups: dict[int, list[Point]] = {}
    young: list[Point] = []
    for p in points:
        tier = tier_of(now_ms - p[0], tiers)
        (young if tier < 0 else groups.setdefault(tier, [])).append(p)
    kept = list(young)
    for tier, group in groups.items():
        group.sort()
        kept += thin_strict(group, tiers[tier][1])
    return sorted(kept)


def thin_strict(points: Sequence[Point], bucket_ms: int) -> list[Point]:
    """`thin` without keeping the ends: at most two points per bucket (the bound the store relies on)."""
    out: set[Point] = set()
    best: dict[int, tuple[Point, Point]] = {}
    for p in points:
        key = p[0] // bucket_ms
        lo_hi = best.get(key)
        best[key] = (p, p) if lo_hi is None else (p if p[1] < lo_hi[0][1] else lo_hi[0],
                                                    p if p[1] > lo_hi[1][1] else lo_hi[1])
    for lo, hi in best.values():
        out.update((lo, hi))
    return sorted(out)


def retained_bound(span_ms: int, interval_ms: int, tiers: Sequence[tuple[int, int]] = TIERS) -> int:
    """The most samples a store keeps of one account sampled every `interval_ms` for `span_ms`."""
    total = math.ceil(min(span_ms, tiers[0][0]) / interval_ms) + 1
    for i, (older_than, bucket) in enumerate(tiers):
        until = tiers[i + 1][0] if i + 1 < len(tiers) else span_ms
        width = max(0, min(span_ms, until) - older_than)
        if width:
            total += 2 * (math.ceil(width / bucket) + 1)
    return total
