"""Symbol rules: Decimal rounding to tick and step, min/max quantity, market lot size and min notional,
checked as properties over generated and real (recorded exchangeInfo) filters."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from mraster.domain.rules import NoValidOrderError, SymbolRules, fmt, on_grid
from mraster.exchange import wire

from tests.exchange.conftest import load_json

REAL_RULES = list(wire.exchange_info(load_json("exchangeInfo_binance-um_2021-07_subset.json"))[0].values())
PROPS = settings(max_examples=150, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])


def decimal_power(lo: int, hi: int):
    return st.integers(lo, hi).map(lambda e: Decimal(1).scaleb(e))


@st.composite
def generated_rules(draw) -> SymbolRules:
    tick = draw(decimal_power(-6, 1)) * draw(st.sampled_from([1, 2, 5]))
    step = draw(decimal_power(-4, 1))
    min_price = tick * draw(st.integers(0, 50))
    min_qty = step * draw(st.integers(1, 20))
    max_qty = min_qty + step * draw(st.integers(10, 10**6))
    market_step = draw(st.one_of(st.none(), st.just(step * 10)))
    return SymbolRules(symbol="GENUSDT", tick_size=tick, step_size=step, min_qty=min_qty, max_qty=max_qty,
                       min_notional=Decimal(draw(st.sampled_from([0, 1, 5, 100]))), min_price=min_price,
                       market_step_size=market_step, market_min_qty=market_step,
                       market_max_qty=(max_qty // market_step) * market_step if market_step else None)


rules_strategy = st.one_of(st.sampled_from(REAL_RULES), generated_rules())
prices = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("200000"), places=8, allow_nan=False)
notionals = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2)


@PROPS
@given(rules_strategy, prices)
def test_rounded_price_is_on_the_tick_grid_and_close(rules, offset):
    price = rules.min_price + offset
    anchor = rules.min_price if rules.min_price > 0 else Decimal(0)
    down, up, near = (rules.round_price(price, m) for m in ("down", "up", "nearest"))
    for p in (down, up, near):
        assert on_grid(p, rules.tick_size, anchor)
    assert down <= price <= up and up - down <= rules.tick_size
    assert abs(near - price) <= rules.tick_size / 2
    assert down == price == up or up - down == rules.tick_size


@PROPS
@given(rules_strategy, st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.9999"), places=4))
def test_price_below_min_price_snaps_up_to_it(rules, fraction):
    assume(rules.min_price > 0)
    price = rules.min_price * fraction
    assert rules.round_price(price, "down") == rules.min_price


@PROPS
@given(rules_strategy, st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=6),
       st.booleans())
def test_rounded_quantity_never_exceeds_and_is_on_step(rules, qty, market):
    step, min_qty, _ = rules.lot(market)
    rounded = rules.round_qty(qty, market=market)
    assert rounded <= qty and qty - rounded < step
    assert on_grid(rounded, step, min_qty)


@PROPS
@given(rules_strategy, notionals, prices, st.booleans())
@example(REAL_RULES[0], Decimal("5"), Decimal("30000.01"), True)
def test_qty_for_notional_is_the_smallest_valid_quantity(rules, target, price, market):
    step, min_qty, max_qty = rules.lot(market)
    try:
        qty = rules.qty_for_notional(target, price, market=market)
    except NoValidOrderError as exc:
        needed = max(target, rules.min_notional) / price
        assert needed > max_qty - step and rules.symbol in str(exc)    # really too big for the lot size
        return
    assert rules.qty_problem(qty, market=market) is None
    assert qty * price >= max(target, rules.min_notional)
    smaller = qty - step
    assert smaller < min_qty or smaller * price < max(target, rules.min_notional)


@PROPS
@given(rules_strategy, notionals, prices, st.booleans())
def test_qty_within_notional_is_the_largest_valid_quantity(rules, cap, price, market):
    step, min_qty, max_qty = rules.lot(market)
    try:
        qty = rules.qty_within_notional(cap, price, market=market)
    except NoValidOrderError:
        # no valid order fits under the cap: even the minimum (by quantity and by notional) is above it
        smallest_valid = max(min_qty, rules.round_qty(rules.min_notional / price, market=market, mode="up"))
        assert smallest_valid * price > cap or smallest_valid > max_qty
        return
    assert rules.qty_problem(qty, market=market) is None
    assert qty * price <= cap and qty * price >= rules.min_notional
    bigger = qty + step
    assert bigger > max_qty or bigger * price > cap


@PROPS
@given(st.decimals(allow_nan=False, allow_infinity=False, places=12, min_value=-10**9, max_value=10**9))
def test_fmt_is_plain_and_exact(value):
    text = fmt(value)
    assert "E" not in text and "e" not in text
    assert Decimal(text) == value
    assert not (("." in text) and text.endswith("0"))


@pytest.mark.parametrize("qty, problem", [("0.0005", "below minimum"), ("1000.001", "above maximum"),
                                          ("0.0015", "not a multiple"), ("0", "positive")])
def test_quantity_problems_name_the_rule(qty, problem):
    btc = next(r for r in REAL_RULES if r.symbol == "BTCUSDT")
    assert problem in btc.qty_problem(Decimal(qty))


def test_min_notional_edge_and_no_valid_order():
    rules = SymbolRules("XUSDT", tick_size=Decimal("0.0001"), step_size=Decimal("1"), min_qty=Decimal("1"),
                        max_qty=Decimal("100"), min_notional=Decimal("5"))
    assert rules.qty_for_notional(Decimal("1"), Decimal("0.5")) == Decimal("10")    # raised to the min notional
    assert rules.qty_for_notional(Decimal("5"), Decimal("2.5")) == Decimal("2")     # exactly at the boundary
    assert rules.qty_for_notional(Decimal("5.01"), Decimal("2.5")) == Decimal("3")
    with pytest.raises(NoValidOrderError, match="above max quantity"):
        rules.qty_for_notional(Decimal("1000"), Decimal("2.5"))
    with pytest.raises(NoValidOrderError, match="no valid quantity"):
        rules.qty_within_notional(Decimal("4.99"), Decimal("2.5"))
    assert rules.notional_ok(Decimal("1"), Decimal("1"), reduce_only=True)          # reduce-only is exempt
    assert not rules.notional_ok(Decimal("1"), Decimal("1"))


def test_market_orders_use_market_lot_size():
    btc = next(r for r in REAL_RULES if r.market_max_qty is not None and r.market_max_qty != r.max_qty)
    assert btc.lot(market=True)[2] == btc.market_max_qty and btc.lot(market=False)[2] == btc.max_qty
    with pytest.raises(NoValidOrderError):
        btc.qty_for_notional(btc.market_max_qty * 10 * Decimal(100), Decimal(100), market=True)
