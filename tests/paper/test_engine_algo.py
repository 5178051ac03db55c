"""Binance's Algo Service in the pure engine: an algo order waits like a conditional order, then places a
new regular order (fresh id, the algo's client id) and reports TRIGGERING -> TRIGGERED -> FINISHED."""
from __future__ import annotations

from decimal import Decimal

import pytest

from mraster.domain.types import OrderStatus
from paper.engine import Engine
from paper.engine.algo import ALGO_ID_BASE
from paper.engine.errors import VenueError
from paper.engine.model import AlgoEvent, OrderEvent

from tests.paper.engine_helpers import T0, make_engine, order, position, set_price

D = Decimal


def binance_engine() -> Engine:
    eng = make_engine()
    eng.algo_cap, eng.callback_max = 200, D("20")
    return eng


def algo_statuses(evts) -> list[str]:
    return [e.order.algo_status for e in evts if isinstance(e, AlgoEvent)]


def test_stop_market_algo_triggers_a_new_regular_order_linked_by_ids():
    eng = binance_engine()
    set_price(eng, "50000")
    eng.place("k", order(quantity="0.01"), T0)                 # long 0.01
    eng.drain()
    algo = eng.place_algo("k", order(side="SELL", type="STOP_MARKET", stop_price="49000", quantity="0.01",
                                     reduce_only=True, client_order_id="sl-1"), T0)
    assert algo.order_id > ALGO_ID_BASE and algo.algo_status == "NEW"
    out = eng.drain().events
    assert [type(e) for e in out] == [AlgoEvent]                 # no ORDER_TRADE_UPDATE for an algo order
    assert eng.find_open("k", "BTCUSDT", algo.order_id, None) is None          # invisible to the order endpoints
    assert eng.find_open("k", "BTCUSDT", algo.order_id, None, algo=True) is algo
    set_price(eng, "48990", now=T0 + 1000)
    evts = eng.drain().events
    assert algo_statuses(evts) == ["TRIGGERING", "TRIGGERED", "FINISHED"]
    child_events = [e for e in evts if isinstance(e, OrderEvent)]
    child = child_events[0].order
    assert child.order_id < ALGO_ID_BASE and child.client_order_id == "sl-1" and child.parent_algo == algo.order_id
    assert child_events[-1].order.status is OrderStatus.FILLED
    triggered = [e.order for e in evts if isinstance(e, AlgoEvent) and e.order.algo_status == "TRIGGERED"][0]
    assert triggered.actual_order_id == child.order_id and triggered.trigger_time == T0 + 1000
    finished = [e.order for e in evts if isinstance(e, AlgoEvent)][-1]
    assert finished.executed_qty == D("0.01") and finished.avg_price > 0
    assert position(eng, "k") == 0


def test_algo_cancel_all_and_regular_cancel_all_are_separate():
    eng = binance_engine()
    set_price(eng, "50000")
    a = eng.place_algo("k", order(side="BUY", type="TAKE_PROFIT_MARKET", stop_price="45000", quantity="0.01"), T0)
    limit = eng.place("k", order(side="BUY", type="LIMIT", price="40000", quantity="0.01", time_in_force="GTC"), T0)
    assert eng.cancel_all("k", "BTCUSDT", T0) == [limit]           # the order endpoint's cancel-all: regular only
    assert a.algo_status == "NEW"
    assert eng.cancel_all_algo("k", "BTCUSDT", T0) == [a]
    assert a.algo_status == "CANCELED"
    with pytest.raises(VenueError) as e:
        eng.cancel_algo("k", a.order_id, None, T0)
    assert e.value.code == -2011


def test_reduce_only_algo_with_nothing_to_reduce_is_rejected_with_a_reason():
    eng = binance_engine()
    set_price(eng, "50000")
    eng.place("k", order(quantity="0.01"), T0)
    algo = eng.place_algo("k", order(side="SELL", type="STOP_MARKET", stop_price="49000", quantity="0.01",
                                     reduce_only=True), T0)
    eng.place("k", order(side="SELL", quantity="0.01"), T0)      # the position is closed by hand
    eng.drain()
    set_price(eng, "48000", now=T0 + 1)
    assert algo.algo_status == "REJECTED" and algo.reject_reason == "Reduce Only reject"
    assert algo_statuses(eng.drain().events) == ["TRIGGERING", "REJECTED"]


def test_close_position_algo_without_position_expires():
    eng = binance_engine()
    set_price(eng, "50000")
    algo = eng.place_algo("k", order(side="SELL", type="STOP_MARKET", stop_price="49000", close_position=True), T0)
    set_price(eng, "48000", now=T0 + 1)
    assert algo.algo_status == "EXPIRED"


def test_trailing_callback_up_to_twenty_percent_and_open_algo_cap():
    eng = binance_engine()
    set_price(eng, "50000")
    eng.place_algo("k", order(side="SELL", type="TRAILING_STOP_MARKET", quantity="0.01", callback_rate="15"), T0)
    with pytest.raises(VenueError) as e:
        eng.place_algo("k", order(side="SELL", type="TRAILING_STOP_MARKET", quantity="0.01", callback_rate="21"), T0)
    assert e.value.code == -1130
    eng.algo_cap = 1
    with pytest.raises(VenueError) as e:
        eng.place_algo("k", order(side="BUY", type="STOP_MARKET", stop_price="51000", quantity="0.01"), T0)
    assert e.value.code == -4045


def test_stop_limit_algo_child_rests_and_the_algo_finishes_when_it_is_cancelled():
    eng = binance_engine()
    set_price(eng, "50000")
    algo = eng.place_algo("k", order(side="BUY", type="STOP", stop_price="51000", price="40000", quantity="0.01",
                                     time_in_force="GTC"), T0)
    set_price(eng, "51000", now=T0 + 1)
    assert algo.algo_status == "TRIGGERED"
    child = eng.find_open("k", "BTCUSDT", algo.actual_order_id, None)
    assert child is not None and child.price == D("40000")
    eng.cancel("k", "BTCUSDT", child.order_id, None, T0 + 2)
    assert algo.algo_status == "FINISHED" and algo.executed_qty == 0
    assert eng.find_algo("k", None, algo.client_order_id) is algo


def test_the_paper_exchange_serves_every_client_profile():
    """The client's venue profiles and the paper exchange's are the same names (the paper exchange starts with
    the account's ASTER_VENUE_PROFILE)."""
    from paper.profiles import PROFILES, profile_of
    from mraster.exchange.profiles import PROFILE_NAMES
    assert set(PROFILES) == set(PROFILE_NAMES)
    assert profile_of(None).name == "aster-v1" and profile_of("BINANCE_USDM").algo_service
    with pytest.raises(ValueError, match="aster-v3"):
        profile_of("kraken")
