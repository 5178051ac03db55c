"""Position sizing: risk formula, multipliers, clamps, default notional, margin cap, symbol filters."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from mraster.domain.sizing import SizingParams, SizingRejected, margin_in_use, open_slots, size_position
from mraster.domain.types import Position, PositionSide

from tests.bot.conftest import make_rules

P = SizingParams(risk_per_trade=0.01, size_mult=1.0, bucket_mults={"S": 0.5, "M": 1.0, "L": 2.0},
                 min_notional=5, max_notional=1000, default_notional=120, leverage=5, equity_fraction=1.0)


def size(**kw):
    args = dict(equity=D(1000), price=D(100), stop_distance=D(2), bucket="M", rules=make_rules(), params=P)
    args.update(kw)
    return size_position(**args)


def test_risk_sizing_formula():
    s = size()                    # 1000 * 0.01 / 2 = 5 units = 500 USDT
    assert s.method == "risk" and s.qty == D("5.000") and s.notional == D("500.000")
    assert s.margin == s.notional / 5


@pytest.mark.parametrize("bucket,qty", [("S", D("2.5")), ("M", D("5")), ("L", D("10"))])
def test_bucket_multipliers(bucket, qty):
    assert size(bucket=bucket).qty == qty


def test_global_multiplier():
    p = SizingParams(risk_per_trade=0.01, size_mult=1.5, bucket_mults=P.bucket_mults, min_notional=5,
                     max_notional=10000, default_notional=120, leverage=5, equity_fraction=1.0)
    assert size(params=p).qty == D("7.5")


def test_clamped_to_max_and_min_notional():
    s = size(stop_distance=D("0.1"))            # 100 units = 10 000 USDT -> cut to 1000
    assert s.notional == D(1000) and "cut to max notional" in s.notes
    s = size(equity=D(10), stop_distance=D(50))   # 0.002 units = 0.2 USDT -> raised to 5
    assert s.notional >= D(5) and s.qty == D("0.050") and "raised to min notional" in s.notes


@pytest.mark.parametrize("equity,dist", [(None, D(2)), (D(0), D(2)), (D(1000), D(0)), (D(1000), None),
                                         (D(1000), float("nan")), (float("nan"), D(2))])
def test_default_notional_when_risk_cannot_decide(equity, dist):
    s = size(equity=equity, stop_distance=dist)
    assert s.method == "default" and s.notional == D(120)


def test_margin_cap_shrinks_then_rejects():
    p = SizingParams(risk_per_trade=0.01, size_mult=1.0, bucket_mults=P.bucket_mults, min_notional=5,
                     max_notional=1000, default_notional=120, leverage=5, equity_fraction=0.25)
    # room = 1000 * 0.25 - 200 = 50 margin -> 250 notional at 5x
    s = size(params=p, margin_in_use=D(200))
    assert s.notional == D(250) and "cut to the equity-fraction margin cap" in s.notes
    with pytest.raises(SizingRejected) as exc:
        size(params=p, margin_in_use=D(250))
    assert exc.value.reason == "equity_fraction"


def test_symbol_filters_round_down_and_respect_venue_minimum():
    r = make_rules(step="1", min_qty="1", min_notional="5")
    s = size(rules=r, price=D(30), stop_distance=D(7))        # 1.43 units -> 1 (round down), 30 USDT
    assert s.qty == D(1)
    r2 = make_rules(step="1", min_qty="1", min_notional="5")
    # target 5 USDT at price 30: rounding down gives 0 -> smallest valid (1 unit = 30) is above the
    # ceiling of 20 -> rejected rather than trading more than allowed
    p = SizingParams(risk_per_trade=0.0001, size_mult=1.0, bucket_mults=P.bucket_mults, min_notional=5,
                     max_notional=20, default_notional=120, leverage=5, equity_fraction=1.0)
    with pytest.raises(SizingRejected) as exc:
        size(rules=r2, price=D(30), params=p)
    assert exc.value.reason == "size"


def test_market_lot_size_used_for_market_orders():
    r = make_rules(step="0.001", market_step_size=D("0.1"), market_min_qty=D("0.1"), market_max_qty=D("100"))
    assert size(rules=r, stop_distance=D(3)).qty == D("3.3")           # 3.333 down to the market step
    assert size(rules=r, stop_distance=D(3), market=False).qty == D("3.333")


def test_bad_inputs():
    with pytest.raises(ValueError):
        size(bucket="XL")
    with pytest.raises(SizingRejected):
        size(price=D(0))


def test_margin_in_use_and_open_slots():
    pos = [Position("A", PositionSide.BOTH, D("2"), D("100"), mark_price=D("110"), leverage=2),
           Position("B", PositionSide.BOTH, D("-1"), D("50"), notional=D("-60"), leverage=3)]
    assert margin_in_use(pos) == D("110") + D("20")
    assert open_slots(["A"], "A", 5, 1) == "position_open"
    assert open_slots(["A", "B"], "C", 2, 1) == "max_open_global"
    assert open_slots(["A"], "C", 2, 1) is None
    assert open_slots([], "C", 2, 0) == "max_open_symbol"
