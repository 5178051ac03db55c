"""Hand-computed trades for every exit path of the compiled engine (synthetic bars, exact numbers)."""
from __future__ import annotations

import numpy as np
import pytest

from backtest.engine import EXIT_PRICE, EXIT_STOP_MARKET, KIND_ATR, KIND_MOMENTUM, REASONS, run_chunk


def bars(rows, slip=0.0):
    a = np.array(rows, dtype=float)
    n = len(a)
    return {"o": a[:, 0].copy(), "h": a[:, 1].copy(), "l": a[:, 2].copy(), "c": a[:, 3].copy(),
            "px": a[:, 4].copy(), "slip": np.full(n, slip), "aux_a": np.zeros(n), "aux_b": np.zeros(n),
            "aux_c": np.zeros(n)}


FLAT = (100.0, 100.05, 99.95, 100.0, 100.0)


def run(rows, sig_at, side=1, sl=50, tp=100, act=60, cb=20, cooldown=0, fee_bps=0.0, slip=0.0,
        mode=EXIT_STOP_MARKET, kind=KIND_MOMENTUM, aux_a=None):
    b = bars(rows, slip)
    if aux_a is not None:
        b["aux_a"][:] = aux_a
    sig = np.zeros((len(rows), 1), dtype=np.int8)
    for i in sig_at:
        sig[i, 0] = side
    params = np.array([[sl, tp, act, 0.0, cb, 0.0, cooldown]])
    m, trades, _ = run_chunk(b, sig, params, kind, fee_bps, 1000.0, mode, record=True)
    return m[0], trades[0]


def test_stop_hit_inside_bar():
    m, t = run([FLAT, FLAT, (100.0, 100.2, 99.4, 99.8, 99.9), FLAT], [0])
    assert len(t) == 1
    entry_i, exit_i, side, qty, ep, xp, ef, xf, pnl, reason = t[0]
    assert (entry_i, exit_i, side, qty, ep) == (1, 2, 1, 10.0, 100.0)
    assert xp == pytest.approx(99.5) and pnl == pytest.approx(-5.0) and REASONS[int(reason)] == "sl"
    assert m[0] == pytest.approx(-5.0) and m[1] == 1 and m[13] == 1


def test_take_profit_hit():
    _, t = run([FLAT, FLAT, (100.0, 101.2, 99.9, 101.0, 100.5), FLAT], [0])
    assert t[0][5] == pytest.approx(101.0) and t[0][8] == pytest.approx(10.0) and REASONS[int(t[0][9])] == "tp"


def test_both_in_one_bar_stop_wins():
    _, t = run([FLAT, FLAT, (100.0, 100.6, 99.4, 100.0, 100.0), FLAT], [0], sl=50, tp=50, act=10)
    assert t[0][5] == pytest.approx(99.5) and REASONS[int(t[0][9])] == "sl"


def test_trailing_activation_then_trail():
    rows = [FLAT, FLAT,
            (100.0, 100.5, 99.9, 100.4, 100.2),      # reaches activation (100.3); the trail starts next bar
            (100.4, 100.45, 100.2, 100.3, 100.35),   # trail level 100.5 * (1 - 0.002) = 100.299 is hit
            FLAT]
    _, t = run(rows, [0], sl=50, tp=200, act=30, cb=20)
    assert t[0][1] == 3 and t[0][5] == pytest.approx(100.5 * 0.998) and REASONS[int(t[0][9])] == "trail"
    # without activation (threshold above the high) the same bars keep the base stop: no exit
    _, t2 = run(rows, [0], sl=50, tp=200, act=60, cb=20)
    assert REASONS[int(t2[0][9])] == "open"


def test_trail_never_looser_than_base_stop():
    rows = [FLAT, FLAT, (100.0, 100.5, 99.9, 100.4, 100.2), (100.0, 100.1, 99.0, 99.2, 99.5), FLAT]
    _, t = run(rows, [0], sl=50, tp=200, act=30, cb=300)     # trail 100.5 * 0.97 < base 99.5
    assert t[0][5] == pytest.approx(99.5) and REASONS[int(t[0][9])] == "trail"


def test_gap_fills_at_open_or_at_price_in_seed_mode():
    rows = [FLAT, FLAT, (99.0, 99.2, 98.8, 99.1, 99.05), FLAT]
    _, t = run(rows, [0])
    assert t[0][5] == 99.0
    _, t = run(rows, [0], mode=EXIT_PRICE)
    assert t[0][5] == 99.05
    _, t = run([FLAT, FLAT, (100.0, 100.2, 99.4, 99.8, 99.9), FLAT], [0], mode=EXIT_PRICE)
    assert t[0][5] == 99.9          # triggered inside the bar, filled at the bar's tw_mid


def test_cooldown():
    stop_bar = (100.0, 100.1, 99.0, 99.5, 99.6)
    rows = [FLAT, FLAT, stop_bar] + [FLAT] * 8
    every = list(range(len(rows)))
    _, t = run(rows, every, cooldown=0)
    assert t[0][1] == 2 and t[1][0] == 3            # re-entry the bar after the exit
    _, t = run(rows, every, cooldown=3)
    assert t[0][1] == 2 and t[1][0] == 6            # exit bar 2 + 1 + 3


def test_short_with_slippage_and_fees():
    rows = [FLAT, FLAT, (100.0, 100.6, 99.9, 100.5, 100.3), FLAT]
    _, t = run(rows, [0], side=-1, sl=50, fee_bps=5.0, slip=0.0001)
    entry_i, exit_i, side, qty, ep, xp, ef, xf, pnl, reason = t[0]
    assert side == -1 and qty == 10.0
    assert ep == pytest.approx(100.0 * 0.9999) and xp == pytest.approx(100.5 * 1.0001)
    assert ef == pytest.approx(10 * ep * 0.0005) and xf == pytest.approx(10 * xp * 0.0005)
    assert pnl == pytest.approx(10 * (ep - xp) - ef - xf)


def test_break_even_floors_raise_take_profit():
    b = bars([FLAT, FLAT, (100.0, 100.25, 99.9, 100.1, 100.1), FLAT])
    b["aux_a"][:] = 2.0                                           # opening loss of a long, bps
    sig = np.zeros((4, 1), dtype=np.int8)
    sig[0, 0] = 1
    # tp 10 bps would be hit at 100.1; floors: be = 2*5 + 2 = 12, act = max(5, 12 + 3) = 15, tp = max(10, 15+5) = 20
    params = np.array([[50.0, 10.0, 5.0, 3.0, 20.0, 5.0, 0.0]])
    _, t, _ = run_chunk(b, sig, params, KIND_MOMENTUM, 5.0, 1000.0, EXIT_STOP_MARKET, record=True)
    assert t[0][0][5] == pytest.approx(100.2) and REASONS[int(t[0][0][9])] == "tp"


def test_atr_strategy_levels():
    rows = [FLAT, FLAT, (100.0, 100.2, 99.35, 99.8, 99.9), FLAT]
    _, t = run(rows, [0], sl=1.5, tp=3.0, kind=KIND_ATR, aux_a=0.4)    # stop 100 - 1.5*0.4 = 99.4
    assert t[0][5] == pytest.approx(99.4) and REASONS[int(t[0][9])] == "sl"


def test_signal_in_position_ignored_and_one_position():
    rows = [FLAT] * 6
    _, t = run(rows, [0, 1, 2, 3], side=1)
    assert len(t) == 1 and t[0][0] == 1 and REASONS[int(t[0][9])] == "open"


def test_metrics_range_and_equity():
    rows = [FLAT, FLAT, (100.0, 100.2, 99.4, 99.8, 99.9), FLAT, FLAT]
    b = bars(rows)
    sig = np.zeros((5, 1), dtype=np.int8)
    sig[0, 0] = 1
    params = np.array([[50.0, 100.0, 1000.0, 0.0, 20.0, 0.0, 0.0]])
    m, _, eq = run_chunk(b, sig, params, KIND_MOMENTUM, 0.0, 1000.0, EXIT_STOP_MARKET, record=True)
    assert eq[0].tolist() == pytest.approx([0.0, 0.0, -5.0, -5.0, -5.0])
    assert m[0][6] == pytest.approx(5.0)        # max drawdown
    assert m[0][11] == 1                        # bars in position (bar 1; exits on bar 2)
    m2, _, _ = run_chunk(b, sig, params, KIND_MOMENTUM, 0.0, 1000.0, EXIT_STOP_MARKET, start=3, end=5)
    assert m2[0][1] == 0 and m2[0][0] == 0.0    # a range after the trade sees nothing of it


def test_short_trailing_activation_then_trail_and_gap():
    rows = [FLAT, FLAT,
            (100.0, 100.1, 99.5, 99.6, 99.8),        # best 99.5 reaches the activation level 99.7
            (99.6, 99.75, 99.55, 99.7, 99.65),       # trail 99.5 * 1.002 = 99.699 is hit inside the bar
            FLAT]
    _, t = run(rows, [0], side=-1, sl=50, tp=200, act=30, cb=20)
    assert t[0][2] == -1 and t[0][1] == 3
    assert t[0][5] == pytest.approx(99.5 * 1.002) and REASONS[int(t[0][9])] == "trail"
    gap = rows[:3] + [(99.9, 100.0, 99.8, 99.9, 99.9), FLAT]     # opens beyond the trail: filled at the open
    _, t = run(gap, [0], side=-1, sl=50, tp=200, act=30, cb=20)
    assert t[0][5] == 99.9 and REASONS[int(t[0][9])] == "trail"


def test_daily_force_exit_after_the_stops():
    rows = [FLAT, FLAT, FLAT, (100.0, 100.2, 99.9, 100.1, 100.05), FLAT]
    b = bars(rows, slip=0.0001)
    b["force"] = np.array([False, False, False, True, True])
    sig = np.zeros((5, 1), dtype=np.int8)
    sig[0, 0] = 1
    params = np.array([[50.0, 100.0, 60.0, 0.0, 20.0, 0.0, 0.0]])
    m, t, _ = run_chunk(b, sig, params, KIND_MOMENTUM, 0.0, 1000.0, EXIT_STOP_MARKET, record=True)
    assert t[0][0][1] == 3 and t[0][0][5] == pytest.approx(100.05 * 0.9999) and REASONS[int(t[0][0][9])] == "force"
    assert m[0][19] == 1 and m[0][1] == 1
    rows[3] = (100.0, 100.2, 99.4, 99.6, 99.8)           # the stop inside the force-exit bar wins
    b = bars(rows)
    b["force"] = np.array([False, False, False, True, True])
    _, t, _ = run_chunk(b, sig, params, KIND_MOMENTUM, 0.0, 1000.0, EXIT_STOP_MARKET, record=True)
    assert t[0][0][5] == pytest.approx(99.5) and REASONS[int(t[0][0][9])] == "sl"


def test_schedule_blocks_entries_and_forces_exits_on_real_bars(real_inputs):
    from backtest.prep import prepare
    from backtest.sweep import split_inputs
    a = split_inputs(real_inputs, ["LINKUSDT"], 0.5, "20:00", "20:30")["LINKUSDT"]
    mod = (a["t"] // 60_000) % 1440
    assert (a["force"] == (mod >= 1230)).all() and (a["no_entry"] == (mod >= 1200)).all()
    cfg = __import__("pandas").DataFrame([dict(k=0.5, T=10, n=1.0, V=10, spread_max=5, funding_max=5, tp_bps=500,
                                               sl_bps=500, activation_bps=400, activation_buffer_bps=0,
                                               callback_bps=10, min_tp_gap_bps=0, cooldown_min=0)])
    bars_, sig, params, kind = prepare("momentum", a, cfg, 0)
    assert not sig[:-1][a["no_entry"][1:]].any() and sig.any()
    _, t, _ = run_chunk(bars_, sig, params, kind, 5.0, 1000.0, EXIT_STOP_MARKET, record=True)
    tr = t[0]
    assert not a["no_entry"][tr[:, 0].astype(int)].any()                 # no entry inside the window
    forced = tr[tr[:, 9] == 4]
    assert len(forced) == 2 and (mod[forced[:, 1].astype(int)] == 1230).all()   # one per day, at 20:30
