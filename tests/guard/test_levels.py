"""Intended levels: the bot's from its state when they fit the position, else computed like the bot."""
from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from mraster.domain.brackets import bracket_prices
from mraster.domain.ids import trade_id_for_adopted
from mraster.domain.types import Kline, PositionSide, Side
from mraster.signals.indicators import atr
from mraster.state import BotState, Trade
from guard.classify import ExitKind
from guard.levels import atr_of, intent_from_trade, match_trade, wilder_atr, with_computed_levels

from tests.guard.builders import RULES, pos

D = Decimal
DATA = Path(__file__).parent.parent / "data" / "guard" / "lean_binance-um_ADAUSDT-perp_1m_20221213_first400.csv"


def candles() -> list[Kline]:
    with DATA.open() as fh:
        rows = list(csv.DictReader(fh))
    return [Kline(open_time=int(r["open_time_ms"]), open=float(r["open"]), high=float(r["high"]),
                  low=float(r["low"]), close=float(r["close"]), volume=float(r["volume"]),
                  close_time=int(r["open_time_ms"]) + 59_999) for r in rows]


@pytest.mark.parametrize("n", [15, 16, 60, 400])
def test_plain_atr_equals_the_shared_indicator_on_real_candles(n):
    ks = candles()[:n]
    high, low, close = (np.array([getattr(k, f) for k in ks]) for f in ("high", "low", "close"))
    expected = atr(high, low, close, 14)[-1]
    assert wilder_atr(high.tolist(), low.tolist(), close.tolist()) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_atr_drops_the_forming_bar_and_falls_back_on_short_history():
    ks = candles()[:40]
    now = ks[-1].close_time            # the last bar closes at `now`: still forming
    closed = ks[:-1]
    assert atr_of(ks, now) == pytest.approx(wilder_atr([k.high for k in closed], [k.low for k in closed],
                                                       [k.close for k in closed]))
    few = ks[:4]
    trs = [max(b.high, a.close) - min(b.low, a.close) for a, b in zip(few, few[1:])]
    assert atr_of(few, 10**15) == pytest.approx(sum(trs) / 3)
    assert atr_of(ks[:1], 10**15) is None


def trade(**kw) -> Trade:
    base = dict(trade_id="BTCUSDT.lq3k2x1a", symbol="BTCUSDT", side="LONG", status="open",
                stop_price=D("29000"), take_profit_price=D("32000"), entry_time_ms=5)
    base.update(kw)
    return Trade(**base)


def test_trade_is_matched_by_symbol_side_and_position_side_newest_first():
    state = BotState(open_trades={
        "a": trade(trade_id="BTCUSDT.a", entry_time_ms=1), "b": trade(trade_id="BTCUSDT.b", entry_time_ms=2),
        "c": trade(trade_id="BTCUSDT.c", side="SHORT", entry_time_ms=3),
        "d": trade(trade_id="BTCUSDT.d", status="closed", entry_time_ms=4),
        "e": trade(trade_id="BTCUSDT.e", position_side="LONG", entry_time_ms=9)})
    assert match_trade(state, pos()).trade_id == "BTCUSDT.b"
    assert match_trade(state, pos(amount="-1")).trade_id == "BTCUSDT.c"
    assert match_trade(state, pos(side=PositionSide.LONG)).trade_id == "BTCUSDT.e"
    assert match_trade(None, pos()) is None


def test_intent_from_the_bots_trade_and_its_sanity_checks():
    intent, notes = intent_from_trade(trade(), pos())
    assert (intent.trade_id, intent.stop, intent.take_profit, intent.profit_kind, notes) == (
        "BTCUSDT.lq3k2x1a", D("29000"), D("32000"), ExitKind.TAKE_PROFIT, [])
    intent, notes = intent_from_trade(trade(take_profit_price=D("29900")), pos())
    assert intent.take_profit is None and "profit side" in notes[0] and intent.stop == D("29000")
    intent, notes = intent_from_trade(trade(stop_price=D("33000")), pos())
    assert intent.stop is None and "beyond the take-profit" in notes[0]
    intent, _ = intent_from_trade(trade(trailing_callback=D("0.5"), trailing_activation=D("31000")), pos())
    assert intent.profit_kind is ExitKind.TRAILING and intent.trailing_callback == D("0.5")
    intent, notes = intent_from_trade(trade(trade_id="X" * 40), pos())
    assert intent.trade_id == trade_id_for_adopted("BTCUSDT") and intent.stop is None and notes
    intent, notes = intent_from_trade(None, pos(amount="-1", side=PositionSide.SHORT))
    assert intent.trade_id == "BTCUSDT.gs" and intent.source == "computed" and notes == []


def test_computed_levels_fill_only_what_is_missing():
    p = pos(amount="-1", entry="30000")
    intent, _ = intent_from_trade(trade(side="SHORT", stop_price=D("30500"), take_profit_price=None), p)
    out = with_computed_levels(intent, p, 100.0, 1.3, 2.0, RULES["BTCUSDT"])
    expected = bracket_prices(D("30000"), Side.SELL, 100.0, 1.3, 2.0, RULES["BTCUSDT"])
    assert out.stop == D("30500") and out.take_profit == expected.take_profit == D("29800")
