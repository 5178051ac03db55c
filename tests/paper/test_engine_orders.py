"""Matching engine: every order type and flag, driven directly (pure, no I/O).

The book behind the touch has 0.5 BTC every 1.00 USDT (gap 100 ticks, no growth), so walks are
easy to check by hand: asks 50000.01, 50001.01, 50002.01, ...
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from mraster.domain.rules import SymbolRules
from mraster.domain.types import ExecutionType, OrderStatus, OrderType, WorkingType
from paper.engine import Engine, SymbolSpec, VenueError, brackets_for

from tests.paper.engine_helpers import D, T0, events, make_engine, order, position, set_price, ticks

K = "acct"


def code_of(fn) -> int:
    with pytest.raises(VenueError) as info:
        fn()
    return info.value.code


@pytest.fixture
def eng() -> Engine:
    e = make_engine()
    set_price(e, "50000")
    e.drain()
    return e


# ------------------------------------------------------------------ market and limit
def test_market_order_walks_the_book_and_pays_taker_fees(eng):
    o = eng.place(K, order(quantity="1.2"), T0)
    assert o.status is OrderStatus.FILLED
    assert o.executed_qty == D("1.2")
    assert o.avg_price == (D("0.5") * D("50000.01") + D("0.5") * D("50001.01") + D("0.2") * D("50002.01")) / D("1.2")
    assert position(eng, K) == D("1.2")
    fee = sum(p * q * D("0.0004") for p, q in ((D("50000.01"), D("0.5")), (D("50001.01"), D("0.5")),
                                                  (D("50002.01"), D("0.2"))))
    assert eng.accounts[K].wallet == D("10000") - fee
    out = events(eng)
    kinds = [(type(e).__name__, getattr(e, "execution_type", None)) for e in out]
    assert kinds[0] == ("OrderEvent", ExecutionType.NEW)
    trades = [e for e in out if getattr(e, "execution_type", None) is ExecutionType.TRADE]
    assert [t.last_qty for t in trades] == [D("0.5"), D("0.5"), D("0.2")]
    assert [t.order.status for t in trades] == [OrderStatus.PARTIALLY_FILLED, OrderStatus.PARTIALLY_FILLED,
                                               OrderStatus.FILLED]
    assert type(out[-1]).__name__ == "AccountEvent" and out[-1].reason == "ORDER"


def test_gtc_limit_takes_what_crosses_and_rests_the_rest(eng):
    o = eng.place(K, order(type="LIMIT", time_in_force="GTC", quantity="1.2", price="50001.01"), T0)
    assert o.status is OrderStatus.PARTIALLY_FILLED and o.executed_qty == D("1.0")
    assert o.is_open and eng.markets["BTCUSDT"].watch.buy_limits.nearest() == ticks(eng, "BTCUSDT", "50001.01")
    # the market comes down: the rest fills as maker at its own price
    set_price(eng, "50000.50", ask="50000.80", bid="50000.20")
    assert o.status is OrderStatus.FILLED
    trades = [e for e in events(eng, "TRADE")]
    assert trades[-1].maker and trades[-1].last_price == D("50001.01")


def test_ioc_fills_what_it_can_and_expires_the_rest(eng):
    o = eng.place(K, order(type="LIMIT", time_in_force="IOC", quantity="1.2", price="50001.01"), T0)
    assert o.status is OrderStatus.EXPIRED and o.executed_qty == D("1.0")
    assert not eng.accounts[K].open_orders
    assert events(eng, "EXPIRED")


def test_fok_that_cannot_fill_whole_expires_without_any_fill(eng):
    o = eng.place(K, order(type="LIMIT", time_in_force="FOK", quantity="1.2", price="50001.01"), T0)
    assert o.status is OrderStatus.EXPIRED and o.executed_qty == 0
    assert position(eng, K) == 0
    o2 = eng.place(K, order(type="LIMIT", time_in_force="FOK", quantity="1.0", price="50001.01"), T0)
    assert o2.status is OrderStatus.FILLED and position(eng, K) == D("1.0")


def test_gtx_that_would_cross_expires_and_one_that_rests_fills_as_maker(eng):
    crossing = eng.place(K, order(type="LIMIT", time_in_force="GTX", quantity="0.1", price="50000.01"), T0)
    assert crossing.status is OrderStatus.EXPIRED and crossing.executed_qty == 0
    resting = eng.place(K, order(type="LIMIT", time_in_force="GTX", quantity="0.1", price="49999.99"), T0)
    assert resting.status is OrderStatus.NEW
    wallet = eng.accounts[K].wallet
    set_price(eng, "49999.50", bid="49999.00", ask="49999.99")
    assert resting.status is OrderStatus.FILLED
    assert eng.accounts[K].wallet == wallet - D("49999.99") * D("0.1") * D("0.0002")   # maker fee


def test_resting_order_fills_in_parts_against_the_book_depth(eng):
    o = eng.place(K, order(type="LIMIT", time_in_force="GTC", quantity="1.2", price="49990.00"), T0)
    statuses = []
    for n in range(3):   # each time the ask touches 49990.00 with 0.5 BTC there
        set_price(eng, "49989.99", bid="49989.98", ask="49990.00", now=T0 + n)
        statuses.append((o.status, o.executed_qty))
    assert statuses == [(OrderStatus.PARTIALLY_FILLED, D("0.5")), (OrderStatus.PARTIALLY_FILLED, D("1.0")),
                        (OrderStatus.FILLED, D("1.2"))]


# ------------------------------------------------------------------ reduce-only, closePosition
def test_reduce_only_never_flips_the_position(eng):
    eng.place(K, order(quantity="0.5"), T0)
    o = eng.place(K, order(side="SELL", quantity="0.8", reduce_only=True), T0)
    assert o.executed_qty == D("0.5") and o.status is OrderStatus.EXPIRED
    assert position(eng, K) == 0
    assert code_of(lambda: eng.place(K, order(side="SELL", quantity="0.1", reduce_only=True), T0)) == -2022
    eng.place(K, order(quantity="0.2"), T0)
    assert code_of(lambda: eng.place(K, order(side="BUY", quantity="0.1", reduce_only=True), T0)) == -2022


def test_close_position_closes_the_position_as_it_is_when_it_fires(eng):
    eng.place(K, order(quantity="0.5"), T0)
    sl = eng.place(K, order(side="SELL", type="STOP_MARKET", stop_price="49000", close_position=True), T0)
    assert sl.status is OrderStatus.NEW and sl.orig_qty == 0
    eng.place(K, order(quantity="0.3"), T0)                      # the position grows after placement
    set_price(eng, "48999.00")
    assert sl.status is OrderStatus.FILLED and sl.executed_qty == D("0.8")
    assert sl.type is OrderType.MARKET and sl.orig_type is OrderType.STOP_MARKET
    assert position(eng, K) == 0


def test_close_position_expires_when_the_position_is_gone_or_flipped(eng):
    set_price(eng, "50000")
    eng.place(K, order(quantity="0.5"), T0)
    sl = eng.place(K, order(side="SELL", type="STOP_MARKET", stop_price="49000", close_position=True), T0)
    eng.place(K, order(side="SELL", quantity="0.7"), T0)         # now short 0.2
    set_price(eng, "48990.00")
    assert sl.status is OrderStatus.EXPIRED and sl.executed_qty == 0
    assert position(eng, K) == D("-0.2")


def test_close_position_rejects_quantity_and_reduce_only(eng):
    assert code_of(lambda: eng.place(K, order(side="SELL", type="STOP_MARKET", stop_price="49000",
                                              close_position=True, quantity="0.1"), T0)) == -4137
    assert code_of(lambda: eng.place(K, order(side="SELL", type="STOP_MARKET", stop_price="49000",
                                              close_position=True, reduce_only=True), T0)) == -4138
    assert code_of(lambda: eng.place(K, order(side="SELL", type="LIMIT", time_in_force="GTC", price="51000",
                                              close_position=True), T0)) == -1106


# ------------------------------------------------------------------ triggers
def test_stops_trigger_on_the_price_their_working_type_names(eng):
    eng.place(K, order(quantity="1"), T0)
    on_mark = eng.place(K, order(side="SELL", type="STOP_MARKET", stop_price="49000", quantity="0.4",
                                 working_type=WorkingType.MARK_PRICE, reduce_only=True), T0)
    on_last = eng.place(K, order(side="SELL", type="STOP_MARKET", stop_price="48500", quantity="0.4",
                                 reduce_only=True), T0)
    set_price(eng, "48600", mark="49500")                        # last below 49000, mark not
    assert on_mark.status is OrderStatus.NEW and on_last.status is OrderStatus.NEW
    set_price(eng, "48400", mark="49500")                        # last through 48500: contract-price stop fires
    assert on_last.status is OrderStatus.FILLED and on_mark.status is OrderStatus.NEW
    set_price(eng, "48400", mark="48999.99")
    assert on_mark.status is OrderStatus.FILLED


def test_take_profit_and_stop_limit_become_limit_orders(eng):
    eng.place(K, order(quantity="1"), T0)
    tp = eng.place(K, order(side="SELL", type="TAKE_PROFIT", stop_price="51000", price="51500", quantity="0.5",
                            time_in_force="GTC", reduce_only=True), T0)
    set_price(eng, "51000")
    assert tp.type is OrderType.LIMIT and tp.orig_type is OrderType.TAKE_PROFIT and tp.status is OrderStatus.NEW
    set_price(eng, "51600", bid="51500.00", ask="51600.01")
    assert tp.status is OrderStatus.FILLED and tp.avg_price == D("51500")


@pytest.mark.parametrize("side,type_,stop", [("SELL", "STOP_MARKET", "50500"), ("BUY", "STOP_MARKET", "49000"),
                                             ("BUY", "TAKE_PROFIT_MARKET", "50500"),
                                             ("SELL", "TAKE_PROFIT_MARKET", "49000")])
def test_orders_that_would_trigger_immediately_are_rejected(eng, side, type_, stop):
    assert code_of(lambda: eng.place(K, order(side=side, type=type_, stop_price=stop, quantity="0.1"), T0)) == -2021


def test_trailing_stop_activates_then_fires_on_the_callback_from_the_running_high(eng):
    eng.place(K, order(quantity="1"), T0)
    ts = eng.place(K, order(side="SELL", type="TRAILING_STOP_MARKET", quantity="1", reduce_only=True,
                            activation_price="51000", callback_rate="1"), T0)
    path = [("50500", False), ("51000", False), ("52000", False), ("51481", False), ("51480", True)]
    for price, fired in path:
        set_price(eng, price)
        assert (ts.status is OrderStatus.FILLED) is fired, price
    assert ts.extreme_t == ticks(eng, "BTCUSDT", "52000")
    assert position(eng, K) == 0


def test_trailing_stop_without_activation_tracks_from_placement(eng):
    eng.place(K, order(side="SELL", quantity="1"), T0)            # short
    ts = eng.place(K, order(side="BUY", type="TRAILING_STOP_MARKET", quantity="1", reduce_only=True,
                            callback_rate="1"), T0)
    assert ts.activated
    set_price(eng, "49000")
    set_price(eng, "49489.99")
    assert ts.status is OrderStatus.NEW
    set_price(eng, "49490")                                        # 49000 x 1.01
    assert ts.status is OrderStatus.FILLED


def test_trailing_stop_placement_rules(eng):
    eng.place(K, order(quantity="1"), T0)
    assert code_of(lambda: eng.place(K, order(side="SELL", type="TRAILING_STOP_MARKET", quantity="1",
                                              activation_price="49000", callback_rate="1"), T0)) == -2021
    for rate in ("0.05", "5.1"):
        assert code_of(lambda: eng.place(K, order(side="SELL", type="TRAILING_STOP_MARKET", quantity="1",
                                                  callback_rate=rate), T0)) == -1130


def test_price_protect_holds_a_trigger_while_mark_and_last_disagree(eng):
    eng.place(K, order(quantity="1"), T0)
    sl = eng.place(K, order(side="SELL", type="STOP_MARKET", stop_price="49000", quantity="1", reduce_only=True,
                            price_protect=True), T0)
    set_price(eng, "46000", mark="49500")                          # 7 % apart, triggerProtect 5 %
    assert sl.status is OrderStatus.NEW
    set_price(eng, "48900", mark="48950")
    assert sl.status is OrderStatus.FILLED


# ------------------------------------------------------------------ rules and limits
def _custom_spec() -> SymbolSpec:
    rules = SymbolRules("TESTUSDT", tick_size=D("0.05"), step_size=D("0.002"), min_qty=D("0.01"),
                        max_qty=D("100"), min_notional=D("5"), min_price=D("10"), max_price=D("1000"),
                        price_precision=2, quantity_precision=3, multiplier_up=D("1.15"),
                        multiplier_down=D("0.85"))
    return SymbolSpec(rules, brackets_for("TESTUSDT"))


@pytest.mark.parametrize("kw,code", [
    ({"type": "LIMIT", "time_in_force": "GTC", "quantity": "1", "price": "100.123"}, -1111),
    ({"type": "LIMIT", "time_in_force": "GTC", "quantity": "1", "price": "100.02"}, -4014),
    ({"type": "LIMIT", "time_in_force": "GTC", "quantity": "1", "price": "-1"}, -4001),
    ({"type": "LIMIT", "time_in_force": "GTC", "quantity": "1", "price": "5"}, -4013),
    ({"type": "LIMIT", "time_in_force": "GTC", "quantity": "1", "price": "1005"}, -4002),
    ({"type": "STOP_MARKET", "quantity": "1", "stop_price": "1005"}, -4007),
    ({"type": "LIMIT", "time_in_force": "GTC", "quantity": "0.004", "price": "100"}, -4004),
    ({"type": "LIMIT", "time_in_force": "GTC", "quantity": "101", "price": "100"}, -4005),
    ({"type": "LIMIT", "time_in_force": "GTC", "quantity": "0.013", "price": "100"}, -4023),
    ({"type": "LIMIT", "time_in_force": "GTC", "quantity": "0.01", "price": "100"}, -4164),
    ({"type": "LIMIT", "time_in_force": "GTC", "quantity": "1", "price": "115.05"}, -4016),
    ({"side": "SELL", "type": "LIMIT", "time_in_force": "GTC", "quantity": "1", "price": "84.95"}, -4024),
    ({"type": "LIMIT", "quantity": "1", "price": "100"}, -1102),
    ({"type": "STOP", "quantity": "1", "price": "100"}, -1102),
    ({"type": "LIMIT", "time_in_force": "GTC", "quantity": "1", "price": "100", "position_side": "LONG"}, -4061),
    ({"type": "LIMIT", "time_in_force": "GTC", "quantity": "1", "price": "100", "client_order_id": "bad id!"},
     -4015),
])
def test_filter_rejections_carry_the_venues_codes(kw, code):
    spec = _custom_spec()
    eng = Engine({"TESTUSDT": spec})
    eng.update_prices("TESTUSDT", T0, 2000, 2000, 1999, 2001, D("10"), D("10"))   # 100.00
    assert code_of(lambda: eng.place(K, order(symbol="TESTUSDT", **{"side": "BUY", **kw}), T0)) == code


def test_min_notional_does_not_apply_to_reduce_only():
    eng = Engine({"TESTUSDT": _custom_spec()})
    eng.update_prices("TESTUSDT", T0, 2000, 2000, 1999, 2001, D("10"), D("10"))
    eng.place(K, order(symbol="TESTUSDT", quantity="1"), T0)
    o = eng.place(K, order(symbol="TESTUSDT", side="SELL", type="LIMIT", time_in_force="GTC", quantity="0.01",
                           price="99.95", reduce_only=True), T0)           # notional 1 < 5, accepted
    assert o.status is OrderStatus.FILLED


def test_hedge_mode_rules(eng):
    from mraster.domain.types import PositionSide
    eng.set_position_mode(K, True, T0)
    assert code_of(lambda: eng.place(K, order(quantity="0.1"), T0)) == -4061
    assert code_of(lambda: eng.place(K, order(quantity="0.1", position_side=PositionSide.LONG,
                                              reduce_only=False), T0)) == -1106
    eng.place(K, order(quantity="0.3", position_side=PositionSide.LONG), T0)
    eng.place(K, order(side="SELL", quantity="0.2", position_side=PositionSide.SHORT), T0)
    assert position(eng, K, side="LONG") == D("0.3") and position(eng, K, side="SHORT") == D("-0.2")
    close = eng.place(K, order(side="SELL", quantity="0.5", position_side=PositionSide.LONG), T0)
    assert close.executed_qty == D("0.3") and close.status is OrderStatus.EXPIRED      # never flips
    assert position(eng, K, side="LONG") == 0 and position(eng, K, side="SHORT") == D("-0.2")
    assert code_of(lambda: eng.set_position_mode(K, False, T0)) == -4068


def test_position_mode_switch_rules(eng):
    assert code_of(lambda: eng.set_position_mode(K, False, T0)) == -4059
    eng.place(K, order(type="LIMIT", time_in_force="GTC", quantity="0.1", price="40000"), T0)
    assert code_of(lambda: eng.set_position_mode(K, True, T0)) == -4067


def test_open_order_and_algo_order_limits(eng):
    eng.place(K, order(quantity="1"), T0)
    for n in range(10):
        eng.place(K, order(side="SELL", type="STOP_MARKET", stop_price=str(40000 + n), quantity="0.1",
                           reduce_only=True), T0)
    assert code_of(lambda: eng.place(K, order(side="SELL", type="STOP_MARKET", stop_price="39000",
                                              quantity="0.1", reduce_only=True), T0)) == -4045
    eng.specs["BTCUSDT"] = SymbolSpec(eng.specs["BTCUSDT"].rules.__class__(
        **{**{f: getattr(eng.specs["BTCUSDT"].rules, f) for f in eng.specs["BTCUSDT"].rules.__slots__},
           "max_num_orders": 11}), eng.specs["BTCUSDT"].brackets)
    eng.place(K, order(type="LIMIT", time_in_force="GTC", quantity="0.1", price="40000"), T0)
    assert code_of(lambda: eng.place(K, order(type="LIMIT", time_in_force="GTC", quantity="0.1",
                                              price="40000"), T0)) == -2025


def test_margin_and_leverage_caps():
    eng = make_engine(balance="100")
    set_price(eng, "50000", top_qty="10")
    assert code_of(lambda: eng.place(K, order(quantity="0.05"), T0)) == -2019        # IM 125 > 100
    assert eng.place(K, order(quantity="0.03"), T0).status is OrderStatus.FILLED     # IM 75
    rich = make_engine(balance="1000000")
    set_price(rich, "50000", top_qty="10")
    rich.set_leverage(K, "BTCUSDT", 125, T0)
    assert code_of(lambda: rich.place(K, order(quantity="1.1"), T0)) == -2027         # cap 50 000 at 125x
    assert rich.place(K, order(quantity="0.9"), T0).status is OrderStatus.FILLED


def test_client_order_ids_are_unique_among_open_orders_only(eng):
    first = eng.place(K, order(type="LIMIT", time_in_force="GTC", quantity="0.1", price="40000",
                               client_order_id="mr-BTCUSDT.abc-SL"), T0)
    assert code_of(lambda: eng.place(K, order(type="LIMIT", time_in_force="GTC", quantity="0.1", price="40000",
                                              client_order_id="mr-BTCUSDT.abc-SL"), T0)) == -4116
    eng.cancel(K, "BTCUSDT", client_id="mr-BTCUSDT.abc-SL", now=T0)
    assert first.status is OrderStatus.CANCELED
    again = eng.place(K, order(type="LIMIT", time_in_force="GTC", quantity="0.1", price="40000",
                               client_order_id="mr-BTCUSDT.abc-SL"), T0)
    assert again.order_id != first.order_id


def test_cancel_of_unknown_or_closed_order_is_rejected(eng):
    assert code_of(lambda: eng.cancel(K, "BTCUSDT", order_id=123, now=T0)) == -2011
    o = eng.place(K, order(quantity="0.1"), T0)
    assert code_of(lambda: eng.cancel(K, "BTCUSDT", order_id=o.order_id, now=T0)) == -2011


def test_new_event_carries_the_order_as_accepted(eng):
    o = eng.place(K, order(quantity="0.1"), T0)
    new = events(eng, "NEW")[0]
    assert new.order.status is OrderStatus.NEW and new.order.executed_qty == 0
    assert o.status is OrderStatus.FILLED                          # the live record moved on


def test_admin_partial_fill_and_expire(eng):
    o = eng.place(K, order(type="LIMIT", time_in_force="GTC", quantity="1", price="40000"), T0)
    eng.fill_part(K, "BTCUSDT", o.order_id, None, D("0.4"), T0)
    assert o.status is OrderStatus.PARTIALLY_FILLED and position(eng, K) == D("0.4")
    assert code_of(lambda: eng.fill_part(K, "BTCUSDT", o.order_id, None, D("0.7"), T0)) == -1130
    eng.cancel(K, "BTCUSDT", o.order_id, now=T0, status=OrderStatus.EXPIRED)
    assert o.status is OrderStatus.EXPIRED and not eng.accounts[K].open_orders
    assert events(eng, "EXPIRED")


def test_unknown_symbol():
    eng = make_engine()
    assert code_of(lambda: eng.place(K, order(symbol="NOPEUSDT", quantity="1"), T0)) == -1121
    assert Decimal  # imported for readers


def test_market_orders_stop_at_the_market_take_bound():
    eng = make_engine(balance="1000000", level_qty="0.1", gap_t=1_000_000)    # levels 10 000 USDT apart
    set_price(eng, "50000")
    o = eng.place(K, order(quantity="1.2"), T0)
    prices = [t.last_price for t in events(eng, "TRADE")]
    assert prices == [D("50000.01"), D("60000.01")]          # 70000.01 is beyond mark + 30 % = 65000
    assert o.status is OrderStatus.EXPIRED and o.executed_qty == D("0.6")
