"""Every price on the tick grid, every quantity on the step grid (issue 12, item 6).

Property tests over random ticks, steps, min prices and fills: bracket levels from an (often off-grid)
average fill price, FastTP's pulled-in take-profit from an off-grid mark price, FastTP's partial exit
quantity, and position sizing. Each level is checked with the same `price_problem` / `qty_problem` the
venue's filters mirror, so "on the grid" means "the venue would accept it".
"""
from __future__ import annotations

from decimal import Decimal as D

from hypothesis import HealthCheck, assume, given, settings, strategies as st

from mraster.domain.brackets import bracket_prices
from mraster.domain.fasttp import FastTPParams, fasttp_decide, partial_exit_qty
from mraster.domain.rules import NoValidOrderError, SymbolRules
from mraster.domain.sizing import SizingParams, SizingRejected, size_position
from mraster.domain.types import Side

TICKS = [D(m) * D(10) ** -e for m in ("1", "2", "5", "25") for e in range(0, 7)]
STEPS = [D(m) * D(10) ** -e for m in ("1", "5") for e in range(0, 5)] + [D(10), D(100)]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def market(draw):
    tick = draw(st.sampled_from(TICKS))
    step = draw(st.sampled_from(STEPS))
    min_price = tick * draw(st.integers(0, 3))                       # the grid is anchored at minPrice
    min_qty = step * draw(st.integers(1, 4))
    rules = SymbolRules("XUSDT", tick, step, min_qty, min_qty * 100000, D(5), min_price=min_price,
                        max_price=D(10) ** 7)
    ticks_above = draw(st.integers(20, 10 ** 6))
    # a fill price: anywhere between two ticks (an average of several fills), not just on the grid
    frac = D(draw(st.integers(0, 999))) / 1000
    price = min_price + tick * ticks_above + tick * frac
    return rules, price


def on_grid(rules: SymbolRules, price: D) -> bool:
    return rules.price_problem(price) is None


@SETTINGS
@given(market(), st.sampled_from([Side.BUY, Side.SELL]), st.floats(1e-9, 0.2), st.floats(0.05, 5),
       st.floats(0.05, 8))
def test_bracket_levels_are_on_the_grid_and_on_the_right_side(m, side, atr_frac, sl_mult, tp_mult):
    rules, entry = m
    atr = float(entry) * atr_frac
    try:
        b = bracket_prices(entry, side, atr, sl_mult, tp_mult, rules)
    except NoValidOrderError:
        return                          # refused outright is fine; an off-grid level never is
    assert on_grid(rules, b.stop), (b.stop, rules.tick_size, rules.min_price)
    assert on_grid(rules, b.take_profit), (b.take_profit, rules.tick_size, rules.min_price)
    if side is Side.BUY:
        assert b.stop <= entry - rules.tick_size and b.take_profit >= entry + rules.tick_size
    else:
        assert b.stop >= entry + rules.tick_size and b.take_profit <= entry - rules.tick_size


@SETTINGS
@given(market(), st.sampled_from([Side.BUY, Side.SELL]), st.floats(1e-9, 0.05), st.floats(0.3, 5.0))
def test_fasttp_pulled_in_take_profit_is_on_the_grid(m, side, atr_frac, r_now):
    rules, price = m
    atr = float(price) * atr_frac
    risk = price * D("0.01")
    entry = price - side.sign * risk * D(str(round(r_now, 4)))
    assume(entry > 0)
    closes = [float(price) * (1 + side.sign * 0.01), float(price) * (1 + side.sign * 0.005), float(price)]
    d = fasttp_decide(side=side, entry=entry, risk_per_unit=risk, price=price, closes=closes, atr=atr,
                      take_profit=None, last_action_ms=None, now_ms=1, rules=rules,
                      params=FastTPParams(min_r=0.25, ret1=-0.001, ret3=-0.002, snap_atr=0.25, mode="pull_in"))
    if not d.fire:
        assert d.reason == "no_valid_level"
        return
    assert on_grid(rules, d.new_take_profit), (d.new_take_profit, rules.tick_size, rules.min_price)
    assert (d.new_take_profit > price) if side is Side.BUY else (d.new_take_profit < price)


@SETTINGS
@given(market(), st.integers(1, 10 ** 6), st.floats(0.05, 0.95))
def test_partial_exit_quantity_is_valid_and_leaves_a_valid_rest(m, lots, fraction):
    rules, _ = m
    qty = rules.min_qty + rules.step_size * (lots - 1)
    part = partial_exit_qty(qty, fraction, rules)
    if part is None:
        return
    assert rules.qty_problem(part, market=True) is None
    assert 0 < part < qty and qty - part >= rules.min_qty


@SETTINGS
@given(market(), st.sampled_from(["S", "M", "L", "BASE"]), st.floats(100, 1e6), st.floats(1e-4, 0.1),
       st.floats(0, 0.02))
def test_sized_quantities_are_on_the_step_grid_and_within_the_cap_at_the_worst_price(m, bucket, equity, stop_frac,
                                                                                      slip):
    rules, price = m
    params = SizingParams(max_notional=300.0, leverage=3)
    worst = price * D(str(1 + slip))
    try:
        d = size_position(equity=D(str(round(equity, 2))), price=price, stop_distance=price * D(str(stop_frac)),
                          bucket=bucket, rules=rules, params=params, worst_price=worst)
    except SizingRejected:
        return
    assert rules.qty_problem(d.qty, market=True) is None
    assert d.qty * worst <= D(300)


def test_off_grid_average_fill_with_a_tiny_atr_keeps_both_levels_on_the_grid():
    """The case the property found first: the one-tick minimum of an off-grid entry (before: 100.04 - 0.1)."""
    rules = SymbolRules("XUSDT", D("0.1"), D("0.001"), D("0.001"), D(1000), D(5))
    b = bracket_prices(D("100.04"), Side.BUY, 0.001, 1.3, 2.0, rules)
    assert (b.stop, b.take_profit) == (D("99.9"), D("100.2"))
    s = bracket_prices(D("100.04"), Side.SELL, 0.001, 1.3, 2.0, rules)
    assert (s.stop, s.take_profit) == (D("100.2"), D("99.9"))


def test_fasttp_one_tick_minimum_from_an_off_grid_mark_price_is_snapped():
    rules = SymbolRules("XUSDT", D("0.1"), D("0.001"), D("0.001"), D(1000), D(5))
    d = fasttp_decide(side=Side.BUY, entry=D(100), risk_per_unit=D(2), price=D("101.04"),
                      closes=[100.0, 101.5, 101.6, 101.04], atr=0.001, take_profit=D(104), last_action_ms=None,
                      now_ms=1, rules=rules, params=FastTPParams(mode="pull_in"))
    assert d.fire and d.new_take_profit == D("101.2")


@SETTINGS
@given(market(), st.integers(1, 10 ** 5), st.floats(0.001, 0.5))
def test_cap_trim_is_a_valid_quantity_that_brings_the_rest_under_the_cap(m, lots, over):
    from bot.runtime.caps import excess_qty
    rules, price = m
    qty = rules.min_qty + rules.step_size * (lots - 1)
    cap = qty * price / D(str(1 + over))                 # the fill is `over` above the cap
    trim = excess_qty(qty, price, cap, rules)
    keep = rules.round_qty(cap / price, market=True, mode="down")        # the largest valid rest under the cap
    if trim is None:                  # only when no valid rest exists: it never closes the whole position
        assert keep < rules.min_qty or qty - max(qty - keep, rules.min_qty) < rules.min_qty
        return
    assert rules.qty_problem(trim, market=True) is None
    assert (qty - trim) * price <= cap and qty - trim >= rules.min_qty
