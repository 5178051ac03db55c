"""Signal rules, trend alignment, wickiness and the HTF alignment on small hand-made frames."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mraster.signals import Candles, SignalParams, align_htf, latest_signal, signal_frame, wickiness

from tests.bot.conftest import klines_from_closes


def candles(closes, step_ms=60_000):
    return Candles.from_klines(klines_from_closes(closes, step_ms=step_ms))


def frame_for(closes, htf_value, **params):
    c = candles(closes)
    return signal_frame(c, np.full(len(c), htf_value, dtype=float), SignalParams(**params))


RISING = [100 + i for i in range(30)]
FALLING = [100 - i for i in range(30)]
ZIGZAG = [100 + (i % 2) for i in range(30)]          # equal gains and losses: RSI 50


def test_long_short_and_none_from_rsi_thresholds():
    assert frame_for(RISING, 60).row().side == 1            # RSI 100 >= 51
    assert frame_for(FALLING, 40).row().side == -1          # RSI 0 <= 49
    row = frame_for(ZIGZAG, 50, rsi_buy_min=55, rsi_sell_max=45).row()
    assert 45 < row.rsi < 55 and row.raw_side == 0 and row.side == 0


def test_thresholds_are_inclusive():
    row = frame_for(ZIGZAG, 50).row()
    at = frame_for(ZIGZAG, 50, rsi_buy_min=row.rsi, rsi_sell_max=row.rsi - 1).row()
    assert at.raw_side == 1
    at = frame_for(ZIGZAG, 50, rsi_buy_min=row.rsi + 1, rsi_sell_max=row.rsi).row()
    assert at.raw_side == -1
    both = frame_for(ZIGZAG, 50, rsi_buy_min=row.rsi, rsi_sell_max=row.rsi).row()
    assert both.raw_side == 0            # ambiguous when the thresholds meet: no trade


@pytest.mark.parametrize("htf,pad,expect", [(50.0, 0.0, 1), (49.9, 0.0, 0), (48.5, 1.5, 1), (48.4, 1.5, 0)])
def test_long_needs_htf_agreement_with_pad(htf, pad, expect):
    row = frame_for(RISING, htf, align_pad=pad).row()
    assert row.raw_side == 1 and row.side == expect and row.aligned == bool(expect)


@pytest.mark.parametrize("htf,pad,expect", [(50.0, 0.0, -1), (50.1, 0.0, 0), (51.5, 1.5, -1), (51.6, 1.5, 0)])
def test_short_needs_htf_agreement_with_pad(htf, pad, expect):
    row = frame_for(FALLING, htf, align_pad=pad).row()
    assert row.raw_side == -1 and row.side == expect


def test_alignment_off_ignores_htf():
    assert frame_for(RISING, 10.0, trend_align=False).row().side == 1
    assert frame_for(RISING, float("nan"), trend_align=False).row().side == 1
    assert frame_for(RISING, float("nan")).row().side == 0     # unknown HTF cannot agree


def test_wickiness_definition():
    o = np.array([1.0, 0.0, 5.0, 2.0])
    h = np.array([2.0, 2.0, 5.0, 4.0])
    lo = np.array([0.0, 0.0, 5.0, 0.0])
    c = np.array([1.0, 2.0, 5.0, 3.0])
    # per bar: 1.0 (all wick), 0.0 (all body), skipped (zero range), (4 - 1) / 4 = 0.75
    w = wickiness(o, h, lo, c, window=4)
    assert np.isnan(w[:3]).all()
    assert w[3] == pytest.approx((1.0 + 0.0 + 0.75) / 3)
    w2 = wickiness(o, h, lo, c, window=2)
    assert w2[1] == pytest.approx(0.5) and w2[2] == pytest.approx(0.0) and w2[3] == pytest.approx(0.75)
    flat = wickiness(np.ones(3), np.ones(3), np.ones(3), np.ones(3), window=3)
    assert math.isnan(flat[2])


def test_align_htf_has_no_look_ahead():
    primary_close = np.array([59_999, 119_999, 179_999, 239_999]) + 1_000_000
    htf_close = np.array([119_999, 239_999]) + 1_000_000
    out = align_htf(primary_close, htf_close, np.array([10.0, 20.0]))
    assert math.isnan(out[0]) and out[1] == 10.0 and out[2] == 10.0 and out[3] == 20.0


def test_latest_signal_uses_last_closed_bars_of_both_timeframes():
    primary = candles(RISING)
    htf = candles([100 - i for i in range(20)], step_ms=300_000)     # falling higher timeframe
    htf = Candles(htf.open_time - 10**8, htf.open, htf.high, htf.low, htf.close, htf.close_time - 10**8)
    row = latest_signal(primary, htf, SignalParams())
    assert row.raw_side == 1 and row.htf_rsi == pytest.approx(0.0) and row.side == 0
    assert row.close == RISING[-1] and row.time_ms == int(primary.close_time[-1])


def test_recent_vol_and_returns():
    closes = [100.0, 101.0, 100.0, 102.0, 103.0] * 6
    f = frame_for(closes, 50)
    logret = np.diff(np.log(closes))
    assert f.recent_vol[-1] == pytest.approx(np.std(logret[-20:]))
    assert f.ret1[-1] == pytest.approx(closes[-1] / closes[-2] - 1)
    assert f.ret3[-1] == pytest.approx(closes[-1] / closes[-4] - 1)
