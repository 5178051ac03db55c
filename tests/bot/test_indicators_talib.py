"""RSI(14) and ATR(14) equal TA-Lib's on real Binance USD-M candles, to 1e-9 once warmed up."""
from __future__ import annotations

import numpy as np
import pytest
import talib

from mraster.signals.indicators import atr, rsi
from mraster.signals import Candles, SignalParams, signal_frame

from tests.bot.conftest import load_candles

FILES = ["lean_binance-um_ADAUSDT-perp_1m_20221213.csv", "binance-um_NEARUSDT-perp_1m_2023-02-01_3000rows.csv"]


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("period", [14, 5])
def test_rsi_and_atr_match_talib(name, period):
    df = load_candles(name)
    h, lo, c = (df[k].to_numpy(np.float64) for k in ("high", "low", "close"))
    ours_rsi, ref_rsi = rsi(c, period), talib.RSI(c, timeperiod=period)
    ours_atr, ref_atr = atr(h, lo, c, period), talib.ATR(h, lo, c, timeperiod=period)
    assert np.array_equal(np.isnan(ours_rsi), np.isnan(ref_rsi))
    assert np.array_equal(np.isnan(ours_atr), np.isnan(ref_atr))
    ok = ~np.isnan(ref_rsi)
    assert ok.sum() > len(c) - 20
    np.testing.assert_allclose(ours_rsi[ok], ref_rsi[ok], rtol=0, atol=1e-9)
    ok = ~np.isnan(ref_atr)
    np.testing.assert_allclose(ours_atr[ok], ref_atr[ok], rtol=0, atol=1e-9)


def test_signal_frame_uses_the_same_indicators():
    df = load_candles(FILES[1])
    c = Candles(df.open_time_ms.to_numpy(), *(df[k].to_numpy(np.float64) for k in ("open", "high", "low", "close")),
                df.open_time_ms.to_numpy() + 59_999)
    frame = signal_frame(c, np.full(len(c), 55.0), SignalParams())
    ref = talib.RSI(c.close, 14)
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(frame.rsi[ok], ref[ok], atol=1e-9, rtol=0)
    np.testing.assert_allclose(frame.atr[15:], talib.ATR(c.high, c.low, c.close, 14)[15:], atol=1e-9, rtol=0)
    # the side follows the documented thresholds bar by bar on real data
    expect = np.where(frame.rsi >= 51, 1, np.where(frame.rsi <= 49, -1, 0))
    assert np.array_equal(frame.raw_side[ok], expect[ok])
    assert set(np.unique(frame.raw_side[ok])) == {-1, 0, 1}


@pytest.mark.parametrize("align", [True, False])
def test_live_signal_equals_the_last_row_of_the_frame(align):
    """The live scan's one-bar evaluation and the backtester's whole-history frame agree bar by bar."""
    from mraster.signals import align_htf, latest_signal
    from mraster.signals.indicators import rsi as rsi_of
    df = load_candles(FILES[1])
    t = df.open_time_ms.to_numpy()
    full = Candles(t, *(df[k].to_numpy(np.float64) for k in ("open", "high", "low", "close")), t + 59_999)
    # the higher timeframe: 5-minute bars built from the same 1-minute candles
    g = df.groupby(df.open_time_ms // 300_000)
    htf = Candles((g.open_time_ms.first()).to_numpy(), g.open.first().to_numpy(), g.high.max().to_numpy(),
                  g.low.min().to_numpy(), g.close.last().to_numpy(), g.open_time_ms.first().to_numpy() + 299_999)
    params = SignalParams(rsi_buy_min=55, rsi_sell_max=45, trend_align=align)
    frame = signal_frame(full, align_htf(full.close_time, htf.close_time, rsi_of(htf.close)), params)
    for end in (100, 777, 1500, 2999):
        cut = Candles(*(getattr(full, f)[:end] for f in ("open_time", "open", "high", "low", "close", "close_time")))
        live = latest_signal(cut, htf, params)
        row = frame.row(end - 1)
        for f in ("rsi", "htf_rsi", "atr", "wickiness", "recent_vol", "ret1", "ret3"):
            assert getattr(live, f) == pytest.approx(getattr(row, f), rel=1e-12, abs=1e-12, nan_ok=True), f
        assert (live.raw_side, live.aligned, live.side) == (row.raw_side, row.aligned, row.side)


def test_indicators_on_rows_equal_one_series_at_a_time():
    df = load_candles(FILES[1])
    c = df.close.to_numpy(np.float64)[:2400].reshape(4, 600)
    h = df.high.to_numpy(np.float64)[:2400].reshape(4, 600)
    lo = df.low.to_numpy(np.float64)[:2400].reshape(4, 600)
    rows_rsi, rows_atr = rsi(c, 14), atr(h, lo, c, 14)
    for k in range(4):
        np.testing.assert_array_equal(rows_rsi[k], rsi(c[k], 14))
        np.testing.assert_array_equal(rows_atr[k], atr(h[k], lo[k], c[k], 14))


def test_batched_live_signals_equal_one_symbol_at_a_time():
    from mraster.signals import latest_signal, latest_signals
    df = load_candles(FILES[1])
    t = df.open_time_ms.to_numpy()
    full = Candles(t, *(df[k].to_numpy(np.float64) for k in ("open", "high", "low", "close")), t + 59_999)

    def cut(a, b):
        return Candles(*(getattr(full, f)[a:b] for f in ("open_time", "open", "high", "low", "close", "close_time")))
    pairs = [(cut(0, 360), cut(0, 400)), (cut(100, 460), cut(0, 2000)), (cut(5, 20), cut(0, 5)),
             (cut(0, 0), cut(0, 10)), (cut(200, 560), cut(0, 30))]
    params = SignalParams()
    batch = latest_signals(pairs, params)
    assert batch[3] is None
    for got, (p, h) in zip(batch, pairs):
        assert repr(got) == repr(latest_signal(p, h, params))          # NaN-safe equality
