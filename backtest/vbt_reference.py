"""The same sweep expressed with vectorbt's `Portfolio.from_signals`: the reference the parity test and
the benchmark compare the compiled engine with. vectorbt is a test-only dependency (`test` extra);
nothing in the application imports this module.

Mapping of the engine's conventions onto vectorbt 1.2.0:
- entries: a `signal_func_nb` that enters on bar i when the signal of bar i-1 is set, the column is
  flat, and the cooldown since the last exit has passed (a stop exit is the only reason vectorbt skips
  the signal function on a bar, which is how the function learns about stop exits); it also issues the
  daily force-exit on the bars marked `force`;
- price = tw_mid, slippage = half spread + extra (fraction), fees = taker fee, size = notional / price
  (`SizeType.Amount`), `stop_entry_price=Price`, `stop_exit_price=StopMarket` (or `Price`);
- `sl_trail=True` with an `adjust_sl_func_nb` that keeps the base stop level until the best price
  reaches the activation level, then max(base, best * (1 - callback)) (mirrored for shorts);
- per-trade take-profit and activation come from the signal bar (the break-even floors), passed as
  bars x configs arrays read at the entry bar.
"""
from __future__ import annotations

import numpy as np

from backtest.engine import EXIT_PRICE, KIND_MOMENTUM, R_OPEN, _levels_nb

_FUNCS: dict = {}


def _funcs():
    if _FUNCS:
        return _FUNCS["signal"], _FUNCS["adjust"]
    from numba import njit

    @njit
    def signal_func_nb(c, sig, cooldown, last_called, last_exit, force):
        i, col = c.i, c.col
        if last_called[col] >= 0 and last_called[col] < i - 1:
            last_exit[col] = i - 1
        last_called[col] = i
        if c.position_now != 0:
            if force[i]:                    # daily force-exit (called only when no stop fired this bar)
                last_exit[col] = i
                return False, c.position_now > 0, False, c.position_now < 0
            return False, False, False, False
        if i < 1:
            return False, False, False, False
        if i < last_exit[col] + 1 + cooldown[col]:
            return False, False, False, False
        s = sig[i - 1, col]
        return s > 0, False, s < 0, False

    @njit
    def adjust_sl_func_nb(c, sl, act, cb):
        if c.position_now == 0 or c.init_i < 0:
            return c.curr_stop, c.curr_trail
        init = c.init_price
        peak = c.curr_price
        col = c.col
        a = act[c.init_i, col]
        s = sl[c.init_i, col]
        if c.position_now > 0:
            activated = peak >= init * (1.0 + a)
            base = init * (1.0 - s)
            if activated and peak * (1.0 - cb[col]) >= base:
                return cb[col], True
            return 1.0 - base / peak, True
        activated = peak <= init * (1.0 - a)
        base = init * (1.0 + s)
        if activated and peak * (1.0 + cb[col]) <= base:
            return cb[col], True
        return base / peak - 1.0, True

    _FUNCS["signal"], _FUNCS["adjust"] = signal_func_nb, adjust_sl_func_nb
    return signal_func_nb, adjust_sl_func_nb


def stop_arrays(bars: dict, sig: np.ndarray, params: np.ndarray, kind: int, fee_bps: float):
    """(sl, tp, act) fractions per bar and config as set by an entry on that bar (from bar i-1's signal)."""
    n, m = sig.shape
    sl = np.full((n, m), np.nan)
    tp = np.full((n, m), np.nan)
    act = np.full((n, m), np.inf)
    rows, cols = np.nonzero(sig[:-1] != 0)
    for js, j in zip(rows, cols):
        i, s = js + 1, sig[js, j]
        p = params[j]
        if kind == KIND_MOMENTUM:
            ol = bars["aux_a"][js] if s > 0 else bars["aux_b"][js]
            _, a, t = _levels_nb(fee_bps, ol, bars["aux_c"][js], p[2], p[3], p[1], p[5])
            sl[i, j], tp[i, j], act[i, j] = p[0] / 1e4, t / 1e4, a / 1e4
        else:
            atr = bars["aux_a"][js]
            sl[i, j], tp[i, j] = p[0] * atr / bars["px"][i], p[1] * atr / bars["px"][i]
    return sl, tp, act


def run_vbt(bars: dict, sig: np.ndarray, params: np.ndarray, kind: int, fee_bps: float, notional: float,
            exit_mode: int):
    """The vectorbt Portfolio for the chunk (one column per configuration)."""
    import vectorbt as vbt
    from vectorbt.portfolio.enums import SizeType, StopEntryPrice, StopExitPrice

    signal_func_nb, adjust_sl_func_nb = _funcs()
    n, m = sig.shape
    sl, tp, act = stop_arrays(bars, sig, params, kind, fee_bps)
    cb = (params[:, 4] / 1e4) if kind == KIND_MOMENTUM else np.zeros(m)
    cooldown = params[:, 6].astype(np.int64)
    col = lambda a: np.broadcast_to(np.asarray(a, dtype=np.float64)[:, None], (n, m))  # noqa: E731
    sl_fill = np.where(np.isnan(sl), 0.0, sl)      # unread where no entry; vectorbt rejects NaN stops only on use
    return vbt.Portfolio.from_signals(
        close=col(bars["c"]), open=col(bars["o"]), high=col(bars["h"]), low=col(bars["l"]),
        price=col(bars["px"]), size=col(notional / bars["px"]), size_type=SizeType.Amount,
        fees=fee_bps / 1e4, slippage=col(bars["slip"]),
        signal_func_nb=signal_func_nb,
        signal_args=(np.ascontiguousarray(sig), cooldown, np.full(m, -1, dtype=np.int64),
                     np.full(m, -(10 ** 9), dtype=np.int64),
                     np.asarray(bars["force"] if bars.get("force") is not None else np.zeros(n), dtype=np.bool_)),
        sl_stop=sl_fill, sl_trail=True, tp_stop=tp,
        stop_entry_price=StopEntryPrice.Price,
        stop_exit_price=StopExitPrice.Price if exit_mode == EXIT_PRICE else StopExitPrice.StopMarket,
        adjust_sl_func_nb=adjust_sl_func_nb, adjust_sl_args=(sl_fill, act, cb),
        init_cash=1e12, use_stops=True)


def vbt_trades(pf, m: int) -> list[np.ndarray]:
    """Per configuration: rows (entry_i, exit_i, side, qty, entry_price, exit_price, entry_fee, exit_fee,
    pnl, open_flag) in the engine's layout."""
    r = pf.trades.records
    out = []
    for j in range(m):
        t = r[r["col"] == j]
        side = np.where(t["direction"] == 0, 1.0, -1.0)
        out.append(np.column_stack([t["entry_idx"], t["exit_idx"], side, t["size"], t["entry_price"],
                                    t["exit_price"], t["entry_fees"], t["exit_fees"], t["pnl"],
                                    np.where(t["status"] == 0, float(R_OPEN), -1.0)]).astype(float))
    return out
