"""The compiled sweep engine: every configuration of a chunk over one symbol's bars in one pass.

Conventions (vectorbt 1.2.0 `Portfolio.from_signals` with the settings in backtest/vbt_reference.py
gives the same trades; docs/backtest.md explains each):
- a signal decided at the close of bar i enters at bar i+1, at `price[i+1]` (tw_mid) plus slippage
  (half the spread of bar i+1 plus the configured extra, as a fraction of the price);
- quantity = notional / price at entry; taker fee on every fill (entry and exit);
- stops are measured from the entry order price (`stop_entry_price="Price"`) and are live from the
  bar after the entry bar; each bar is checked from its open/high/low: first the stop (base or
  trailing), then the take-profit only if the stop was not hit, so when both lie inside one bar the
  stop wins (vectorbt's order);
- a stop fills at its level, or at the open when the bar opens beyond it (`StopMarket`), then
  slippage; or, in the seed's literal mode, at the bar's order price (`Price`);
- trailing: the base stop holds until the best price so far reaches the activation level; from then
  on the stop is max(base, best * (1 - callback)) for a long (mirrored for a short), as the live
  STOP_MARKET and TRAILING_STOP_MARKET orders would leave it. The best price is updated after a bar
  is checked, so the bar that activates or extends the trail moves the stop from the next bar on;
- one position per symbol and configuration; signals while in a position are ignored; after an exit
  at bar j the earliest entry is bar j + 1 + cooldown;
- optional daily schedule (the live engine's): no entry on bars from the entry-halt time to midnight UTC;
  a position still open at the force-exit bar is closed at that bar's price plus slippage, after the
  bar's stops were checked (a stop hit in that bar wins);
- a bar with a missing open/high/low/close/price/slippage is skipped entirely;
- a position still open at the end of the range is valued at the last close (no exit fee) and
  reported with reason `open`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from mraster.signals.momentum import exit_levels_bps

KIND_MOMENTUM, KIND_ATR = 0, 1
EXIT_STOP_MARKET, EXIT_PRICE = 0, 1
R_SL, R_TRAIL, R_TP, R_OPEN, R_FORCE = 0, 1, 2, 3, 4
REASONS = ("sl", "trail", "tp", "open", "force")

# metric accumulator columns
M_COLS = ("total_pnl", "trades", "wins", "gross_profit", "gross_loss", "fees", "max_dd", "sum_d", "sum_d2",
          "sum_neg2", "n_bars", "bars_in_pos", "hold_bars", "n_sl", "n_trail", "n_tp", "open_at_end",
          "n_long", "n_short", "n_force")
NM = len(M_COLS)
# trade record columns
T_COLS = ("entry_i", "exit_i", "side", "qty", "entry_price", "exit_price", "entry_fee", "exit_fee", "pnl",
          "reason")
NT = len(T_COLS)
# per-configuration parameter columns
P_COLS = ("sl", "tp", "act", "buf", "cb", "gap", "cooldown")

_levels_nb = njit(cache=True)(exit_levels_bps)


@njit(cache=True)
def _stop_level(side, init, peak, sl, act, cb):
    """(stop level, activated) with vectorbt's arithmetic: it keeps a stop *fraction* relative to the
    best price and multiplies back, so the same expressions give the same floats."""
    if side > 0:
        activated = peak >= init * (1.0 + act)
        base = init * (1.0 - sl)
        if activated and peak * (1.0 - cb) >= base:
            frac = cb
        else:
            frac = 1.0 - base / peak
        return peak * (1.0 - frac), activated
    activated = peak <= init * (1.0 - act)
    base = init * (1.0 + sl)
    if activated and peak * (1.0 + cb) <= base:
        frac = cb
    else:
        frac = base / peak - 1.0
    return peak * (1.0 + frac), activated


@njit(cache=True)
def _run_one(j, o, h, lo, c, px, slip, aux_a, aux_b, aux_c, force, sig, params, kind, fee, fee_bps, notional,
             exit_mode, start, end, metrics, record, trades, equity):
    sl_p, tp_p, act_p, buf_p, cb_p, gap_p = (params[j, 0], params[j, 1], params[j, 2], params[j, 3],
                                             params[j, 4], params[j, 5])
    cooldown = int(params[j, 6])
    side = 0
    qty = 0.0
    entry_fill = 0.0
    entry_fee = 0.0
    init = 0.0
    peak = 0.0
    sl_f = 0.0
    tp_f = 0.0
    act_f = 0.0
    cb_f = 0.0
    entry_i = -1
    next_ok = start
    realized = 0.0
    eq_prev = 0.0
    eq_peak = 0.0
    last_close = np.nan
    nt = 0
    m = metrics[j]
    for i in range(start, end):
        if (np.isnan(o[i]) or np.isnan(h[i]) or np.isnan(lo[i]) or np.isnan(c[i]) or np.isnan(px[i])
                or np.isnan(slip[i])):
            if record:
                equity[j, i] = eq_prev
            continue
        m[10] += 1.0
        exited = False
        if side != 0:
            level, activated = _stop_level(side, init, peak, sl_f, act_f, cb_f)
            stop_px = np.nan
            reason = R_TRAIL if activated else R_SL
            if side > 0:
                if o[i] <= level:
                    stop_px = o[i]
                elif lo[i] <= level <= h[i]:
                    stop_px = level
                if np.isnan(stop_px):
                    tp_level = init * (1.0 + tp_f)
                    reason = R_TP
                    if tp_level <= o[i]:
                        stop_px = o[i]
                    elif lo[i] <= tp_level <= h[i]:
                        stop_px = tp_level
                if h[i] > peak:
                    peak = h[i]
            else:
                if level <= o[i]:
                    stop_px = o[i]
                elif lo[i] <= level <= h[i]:
                    stop_px = level
                if np.isnan(stop_px):
                    tp_level = init * (1.0 - tp_f)
                    reason = R_TP
                    if o[i] <= tp_level:
                        stop_px = o[i]
                    elif lo[i] <= tp_level <= h[i]:
                        stop_px = tp_level
                if lo[i] < peak:
                    peak = lo[i]
            p = np.nan
            if not np.isnan(stop_px):
                p = stop_px if exit_mode == EXIT_STOP_MARKET else px[i]
            elif force[i]:
                p = px[i]                      # the daily force-exit: at market (tw_mid) after the stops
                reason = R_FORCE
            if not np.isnan(p):
                if side > 0:
                    fill = p * (1.0 - slip[i])
                else:
                    fill = p * (1.0 + slip[i])
                exit_fee = qty * fill * fee
                gross = side * qty * (fill - entry_fill)
                pnl = gross - entry_fee - exit_fee
                realized += gross - exit_fee
                m[1] += 1.0
                if pnl > 0:
                    m[2] += 1.0
                    m[3] += pnl
                else:
                    m[4] -= pnl
                m[5] += exit_fee
                m[12] += i - entry_i
                if reason == R_FORCE:
                    m[19] += 1.0
                else:
                    m[13 + reason] += 1.0
                if record:
                    t = trades[j, nt]
                    t[0], t[1], t[2], t[3], t[4] = entry_i, i, side, qty, entry_fill
                    t[5], t[6], t[7], t[8], t[9] = fill, entry_fee, exit_fee, pnl, reason
                nt += 1
                side = 0
                next_ok = i + 1 + cooldown
                exited = True
        if side == 0 and not exited and i >= next_ok and i >= 1:
            s = sig[j, i - 1]
            if s != 0:
                js = i - 1
                p0 = px[i]
                if kind == KIND_MOMENTUM:
                    ol = aux_a[js] if s > 0 else aux_b[js]
                    be, act_bps, tp_bps = _levels_nb(fee_bps, ol, aux_c[js], act_p, buf_p, tp_p, gap_p)
                    sl_f = sl_p / 1e4
                    tp_f = tp_bps / 1e4
                    act_f = act_bps / 1e4
                    cb_f = cb_p / 1e4
                else:
                    atr = aux_a[js]
                    sl_f = sl_p * atr / p0
                    tp_f = tp_p * atr / p0
                    act_f = np.inf
                    cb_f = 0.0
                if not (np.isnan(sl_f) or np.isnan(tp_f) or np.isnan(act_f)):
                    side = 1 if s > 0 else -1
                    qty = notional / p0
                    if side > 0:
                        entry_fill = p0 * (1.0 + slip[i])
                    else:
                        entry_fill = p0 * (1.0 - slip[i])
                    entry_fee = qty * entry_fill * fee
                    realized -= entry_fee
                    m[5] += entry_fee
                    init = p0
                    peak = p0
                    entry_i = i
                    if side > 0:
                        m[17] += 1.0
                    else:
                        m[18] += 1.0
        last_close = c[i]
        eq = realized
        if side != 0:
            m[11] += 1.0
            eq += side * qty * (c[i] - entry_fill)
        d = eq - eq_prev
        m[7] += d
        m[8] += d * d
        if d < 0:
            m[9] += d * d
        eq_prev = eq
        if eq > eq_peak:
            eq_peak = eq
        if eq_peak - eq > m[6]:
            m[6] = eq_peak - eq
        if record:
            equity[j, i] = eq
    if side != 0:
        m[16] = 1.0
        if record:
            gross = side * qty * (last_close - entry_fill)
            t = trades[j, nt]
            t[0], t[1], t[2], t[3], t[4] = entry_i, end - 1, side, qty, entry_fill
            t[5], t[6], t[7], t[8], t[9] = last_close, entry_fee, 0.0, gross - entry_fee, R_OPEN
            nt += 1
    m[0] = eq_prev
    return nt


@njit(parallel=True, cache=True)
def run_chunk_nb(o, h, lo, c, px, slip, aux_a, aux_b, aux_c, force, sig, params, kind, fee, fee_bps, notional,
                 exit_mode, start, end, record, trades, equity):
    """Metrics (configs x NM) of every configuration (row of `sig`, configs x bars, and of `params`) over
    bars [start, end); with `record`, trades (configs x max_trades x NT) and equity (configs x bars) too."""
    n_cfg = sig.shape[0]
    metrics = np.zeros((n_cfg, NM))
    counts = np.zeros(n_cfg, dtype=np.int64)
    for j in prange(n_cfg):
        counts[j] = _run_one(j, o, h, lo, c, px, slip, aux_a, aux_b, aux_c, force, sig, params, kind, fee,
                             fee_bps, notional, exit_mode, start, end, metrics, record, trades, equity)
    return metrics, counts


def run_chunk(bars: dict, sig: np.ndarray, params: np.ndarray, kind: int, fee_bps: float, notional: float,
              exit_mode: int, start: int = 0, end: int | None = None, record: bool = False):
    """Python face of the kernel. `bars` holds float64 arrays o, h, l, c, px, slip, aux_a, aux_b, aux_c and
    optionally `force` (bool: close any position at this bar's price, the daily force-exit)."""
    n = len(bars["c"])
    end = n if end is None else end
    m = sig.shape[1]
    force = bars.get("force")
    force = np.zeros(n, dtype=np.bool_) if force is None else np.asarray(force, dtype=np.bool_)
    args = (bars["o"], bars["h"], bars["l"], bars["c"], bars["px"], bars["slip"], bars["aux_a"], bars["aux_b"],
            bars["aux_c"], force, np.ascontiguousarray(sig.T), np.ascontiguousarray(params, dtype=np.float64), int(kind),
            fee_bps / 1e4, float(fee_bps), float(notional), int(exit_mode), int(start), int(end))
    metrics, counts = run_chunk_nb(*args, False, np.zeros((m, 0, NT)), np.zeros((m, 0)))
    if not record:
        return metrics, None, None
    # a second pass with the trade arrays sized from the first pass's counts (closed + open at the end)
    trades = np.zeros((m, max(1, int((metrics[:, 1] + metrics[:, 16]).max(initial=0))), NT))
    equity = np.full((m, n), np.nan)
    metrics, counts = run_chunk_nb(*args, True, trades, equity)
    return metrics, [trades[j, :counts[j]] for j in range(m)], equity
