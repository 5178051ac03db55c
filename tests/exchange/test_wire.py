"""Parsing of recorded real venue responses into domain types, tolerant of quirks, strict on what matters."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from mraster.domain.types import (
    AccountUpdate, AggTradeEvent, BookTickerEvent, DepthEvent, ExecutionType, KlineEvent, ListenKeyExpired, MarginType,
    OrderStatus, OrderType, OrderUpdate, PositionSide, Side, TimeInForce,
)
from mraster.exchange import wire
from mraster.exchange.errors import MalformedResponseError
from mraster.exchange.wire import WireError
from mraster.exchange.wire_stream import market_events, user_event

from tests.exchange.conftest import DATA, load_json


@pytest.fixture(scope="module")
def samples():
    return {i: s["httpResponse"] for i, s in enumerate(load_json("binance-futures_ccxt-recorded-responses.json")["samples"])}


def test_exchange_info_rules(exchange_info):
    rules, weight_limit, order_limit = wire.exchange_info(exchange_info)
    assert len(rules) == len(exchange_info["symbols"]) and (weight_limit, order_limit) == (2400, 1200)
    btc = rules["BTCUSDT"]
    assert btc.tick_size == Decimal("0.01") and btc.step_size == Decimal("0.001")
    assert btc.min_price == Decimal("556.72") and btc.min_notional == Decimal("5")
    assert btc.market_max_qty is not None and btc.max_num_algo_orders == 10
    assert btc.multiplier_up == Decimal("1.1500") and btc.trigger_protect == Decimal("0.0500")
    assert "TRAILING_STOP_MARKET" in btc.order_types and btc.is_tradable
    assert not rules["BTCUSDT_210924"].is_tradable           # a delivery contract, not a perpetual
    for r in rules.values():                                  # every filter made it across as an exact Decimal
        assert r.tick_size > 0 and r.step_size > 0 and r.min_qty > 0


def test_exchange_info_skips_an_unreadable_symbol_but_keeps_the_rest(exchange_info):
    exchange_info["symbols"][1]["filters"] = [f for f in exchange_info["symbols"][1]["filters"]
                                              if f["filterType"] != "LOT_SIZE"]
    rules, _, _ = wire.exchange_info(exchange_info)
    assert exchange_info["symbols"][1]["symbol"] not in rules and "BTCUSDT" in rules
    with pytest.raises(MalformedResponseError, match="symbols"):
        wire.parse("GET /fapi/v1/exchangeInfo", wire.exchange_info, {"serverTime": 1})


def test_klines_sample_and_closed_flag(samples):
    rows = wire.klines(samples[9], now_ms=1712738580000)
    assert [k.open_time for k in rows] == [1712738460000, 1712738520000, 1712738580000]
    assert rows[1].low == 70459.4 and rows[1].trades == 9 and rows[1].taker_buy_volume == 0.061
    assert [k.closed for k in rows] == [True, True, False]    # the last bar is still open at that time


def test_depth_samples(samples):
    snap = wire.depth(samples[11], "BTCUSDT")                 # ids as strings (ccxt capture)
    assert snap.last_update_id == 35263532345 and snap.bids[0] == (42651.10, 470.672) and len(snap.asks) == 5
    big = wire.depth(json.loads((DATA / "binance-um_GET_fapi_v1_depth_SUSHIUSDT_limit1000_2021-07-22.json")
                                .read_text()), "SUSHIUSDT")
    assert len(big.bids) == 1000 and big.bids[0][0] > big.bids[-1][0] and big.asks[0][0] < big.asks[-1][0]


def test_orders_from_samples(samples):
    o = wire.order(samples[2])                                # orderId as a string
    assert o.order_id == 664082074 and o.time_in_force is TimeInForce.GTX and o.status is OrderStatus.NEW
    assert o.price == Decimal("50.00") and o.orig_qty == Decimal("0.200")
    batch = wire.many(wire.order, samples[0], "orders")
    assert batch[0].order_id == 4087922044 and batch[0].side is Side.SELL
    filled = wire.order(samples[15][0])
    assert filled.status is OrderStatus.FILLED and filled.position_side is PositionSide.LONG
    assert filled.avg_price == Decimal("47279.40000")


def test_positions_account_trades_income(samples):
    p = wire.position(samples[4][0])                          # v3 rows lack leverage and marginType: defaults
    assert p.amount == Decimal("0.009") and p.entry_price == Decimal("67445.9") and p.leverage == 1
    inverse = wire.position(samples[6][0])
    assert inverse.amount == -3 and inverse.margin_type is MarginType.CROSSED and inverse.leverage == 20
    acct = wire.account_info(samples[8])
    assert acct.total_wallet_balance == Decimal("31.02261200") and acct.safety_multiple is None
    acct3 = wire.account_info(samples[5])
    assert acct3.safety_multiple == Decimal("26.26840422") / Decimal("2.43034303")
    t = wire.user_trade(samples[7][0])
    assert t.id == 272536245 and t.commission == Decimal("0.14626840") and t.time == 1699972836419
    inc = wire.income(samples[14][0])
    assert inc.income == Decimal("-0.04618913") and inc.tran_id == "8082457372019390060"


@pytest.mark.parametrize("field, value", [("price", None), ("side", "UP"), ("status", "WEIRD"), ("orderId", "12a"),
                                          ("origQty", "NaN"), ("type", 5)])
def test_order_fields_that_matter_are_strict(samples, field, value):
    bad = dict(samples[2])
    bad[field] = value
    if value is None:
        del bad[field]
        assert wire.order(bad).price == 0                     # optional: default
        return
    with pytest.raises(MalformedResponseError) as info:
        wire.parse("GET /fapi/v1/order", wire.order, bad)
    assert info.value.endpoint == "GET /fapi/v1/order" and field in str(info.value)


def test_numbers_as_numbers_or_strings_and_unknown_tif():
    assert wire.dec(0.35) == Decimal("0.35") and wire.dec("1e-8") == Decimal("1E-8")
    assert wire.integer("1712738460000") == 1712738460000 and wire.integer(5.0) == 5
    assert wire.boolean("TRUE") is True and wire.boolean(False) is False
    assert wire.time_in_force("GTE_GTC") is TimeInForce.GTC
    for bad in (True, None, "abc", "inf"):
        with pytest.raises(WireError):
            wire.dec(bad)
    with pytest.raises(WireError):
        wire.integer("1.5")


def test_recorded_combined_stream_parses_completely():
    kinds: dict[type, int] = {}
    closes = []
    for line in (DATA / "ws_combined-stream_2021-07-22_subset.jsonl").read_text().splitlines():
        msg = json.loads(line)["msg"]
        for event in market_events(msg["data"]):
            kinds[type(event)] = kinds.get(type(event), 0) + 1
            if isinstance(event, KlineEvent) and event.kline.closed:
                closes.append((event.symbol, event.kline.open_time))
            if isinstance(event, DepthEvent):
                assert event.final_update_id >= event.first_update_id
    assert set(kinds) == {BookTickerEvent, DepthEvent, KlineEvent, AggTradeEvent}
    assert len(closes) == 4 and all(t % 60_000 == 0 for _, t in closes)


ORDER_TRADE_UPDATE = {
    "e": "ORDER_TRADE_UPDATE", "E": 1568879465651, "T": 1568879465650,
    "o": {"s": "BTCUSDT", "c": "mr-BTCUSDT.lq3k2x1a-SL", "S": "SELL", "o": "MARKET", "f": "GTC", "q": "0.001",
          "p": "0", "ap": "9100.5", "sp": "9100", "x": "TRADE", "X": "FILLED", "i": 8886774, "l": "0.001",
          "z": "0.001", "L": "9100.5", "N": "USDT", "n": "0.0036", "T": 1568879465650, "t": 12, "b": "0", "a": "9.91",
          "m": False, "R": True, "wt": "MARK_PRICE", "ot": "STOP_MARKET", "ps": "BOTH", "cp": True, "rp": "-1.25"}}
ACCOUNT_UPDATE = {
    "e": "ACCOUNT_UPDATE", "E": 1564745798939, "T": 1564745798938,
    "a": {"m": "ORDER", "B": [{"a": "USDT", "wb": "122624.12345678", "cw": "100.12345678", "bc": "50.12345678"}],
          "P": [{"s": "BTCUSDT", "pa": "-0.001", "ep": "9100.5", "cr": "200", "up": "0.2", "mt": "isolated",
                 "iw": "1.5", "ps": "BOTH"}]}}


def test_user_events():
    upd = user_event(ORDER_TRADE_UPDATE)
    assert isinstance(upd, OrderUpdate) and upd.execution_type is ExecutionType.TRADE
    assert upd.order.type is OrderType.MARKET and upd.order.orig_type is OrderType.STOP_MARKET
    assert upd.order.close_position and upd.order.reduce_only and upd.realized_pnl == Decimal("-1.25")
    assert upd.commission == Decimal("0.0036") and upd.order.cum_quote == Decimal("9.1005")
    acct = user_event(ACCOUNT_UPDATE)
    assert isinstance(acct, AccountUpdate) and acct.reason == "ORDER"
    assert acct.positions[0].amount == Decimal("-0.001") and acct.positions[0].margin_type == "isolated"
    assert acct.balances[0].balance_change == Decimal("50.12345678")
    cfg = user_event({"e": "ACCOUNT_CONFIG_UPDATE", "E": 1, "T": 1, "ac": {"s": "BTCUSDT", "l": 25}})
    assert cfg.leverage == 25 and cfg.symbol == "BTCUSDT" and cfg.dual_side_position is None
    assert isinstance(user_event({"e": "listenKeyExpired", "E": 5}), ListenKeyExpired)
    call = user_event({"e": "MARGIN_CALL", "E": 2, "cw": "3.16", "p": [{"s": "ETHUSDT", "ps": "LONG", "pa": "1.3",
                                                                      "mt": "CROSSED", "iw": "0", "mp": "187.2",
                                                                      "up": "-1.1", "mm": "0.6"}]})
    assert call.positions[0].position_side is PositionSide.LONG and call.positions[0].margin_type == "crossed"
    assert user_event({"e": "SOMETHING_NEW", "E": 1}) is None


def test_user_event_missing_what_matters_is_an_error():
    bad = json.loads(json.dumps(ORDER_TRADE_UPDATE))
    del bad["o"]["X"]
    with pytest.raises(WireError, match="X"):
        user_event(bad)
