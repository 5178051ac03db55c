"""Venue profiles are data: every operation has a path per profile, V3 uses /fapi/v3 for all of them, and
no code outside mraster/exchange branches on the venue. Algo Service payloads map onto domain orders."""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from mraster.domain.types import ExecutionType, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from mraster.exchange import profiles as P
from mraster.exchange.algo import algo_params
from mraster.exchange.wire import WireError
from mraster.exchange.wire_algo import algo_order, algo_update
from mraster.exchange.wire_stream import user_event

ROOT = Path(__file__).resolve().parents[2]


def test_profiles_cover_the_same_operations():
    v1, v3, bn = (P.get_profile(n) for n in ("aster-v1", "aster-v3", "binance-usdm"))
    assert set(v1.paths) == set(v3.paths)
    assert set(bn.paths) == set(v1.paths) | {P.ALGO_ORDER, P.OPEN_ALGO_ORDERS, P.ALGO_OPEN_ORDERS}
    assert all(p.startswith("/fapi/v3/") for p in v3.paths.values())
    assert v3.path(P.LISTEN_KEY) == "/fapi/v3/listenKey" and v3.path(P.POSITION_SIDE_DUAL) == "/fapi/v3/positionSide/dual"
    assert v3.path(P.BALANCE) == "/fapi/v3/balance" and v3.account_paths[0] == "/fapi/v3/accountWithJoinMargin"
    assert v1.auth == bn.auth == P.HMAC and v3.auth == P.EIP712
    assert v3.signs_listen_key and not v1.signs_listen_key and not bn.signs_listen_key
    assert bn.uses_algo_service and not v1.uses_algo_service and not v3.uses_algo_service
    assert v3.weight_path("/fapi/v3/balance") == "/fapi/v2/balance"


def test_profile_names_are_checked():
    assert P.get_profile(None).name == "aster-v1" and P.get_profile("BINANCE_USDM").name == "binance-usdm"
    with pytest.raises(ValueError, match="aster-v1, aster-v3, binance-usdm"):
        P.get_profile("kraken")
    assert P.profile_for_host("https://fapi.binance.com") == ["binance-usdm"]
    assert P.profile_for_host("http://127.0.0.1:8765") == []


def test_no_hard_coded_paths_in_the_client_modules():
    """Paths live in profiles.py only: the client, the algo route and the HTTP core look them up."""
    for name in ("client.py", "algo.py", "http.py", "user_stream.py"):
        text = (ROOT / "mraster" / "exchange" / name).read_text()
        assert not re.search(r"[\"']/fapi/", text), name


def test_no_venue_branches_outside_the_exchange_package():
    pattern = re.compile(r"aster-v[13]|binance-usdm|uses_algo_service|venue_profile ==")
    offenders = []
    for folder in ("mraster", "bot", "guard"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(("mraster/exchange/", "mraster/settings/", "commands/config_cmd.py")):
                continue
            if pattern.search(path.read_text(errors="replace")):
                offenders.append(rel)
    assert offenders == []


def test_algo_params_rename_fields_and_add_the_algo_type():
    req = OrderRequest("BTCUSDT", Side.SELL, OrderType.TRAILING_STOP_MARKET, "mr-x-TR", quantity=Decimal("0.01"),
                       activation_price=Decimal("61000"), callback_rate=Decimal("1.5"), reduce_only=True)
    params = dict(algo_params(req, P.ALGO_RENAMES))
    assert params["algoType"] == "CONDITIONAL" and params["clientAlgoId"] == "mr-x-TR"
    assert params["activatePrice"] == Decimal("61000") and params["callbackRate"] == Decimal("1.5")
    assert not {"activationPrice", "newClientOrderId", "stopPrice", "newOrderRespType"} & set(params)


ALGO = {"algoId": 4000000123456789, "clientAlgoId": "sl-btc-42", "algoType": "CONDITIONAL",
        "orderType": "STOP_MARKET", "symbol": "BTCUSDT", "side": "SELL", "positionSide": "BOTH",
        "timeInForce": "GTE_GTC", "quantity": "0.010", "algoStatus": "NEW", "triggerPrice": "58000.00",
        "price": "0.00", "icebergQuantity": None, "selfTradePreventionMode": "NONE", "workingType": "MARK_PRICE",
        "priceMatch": "NONE", "closePosition": False, "priceProtect": False, "reduceOnly": True,
        "activatePrice": "", "callbackRate": "", "createTime": 1, "updateTime": 2, "triggerTime": 0,
        "goodTillDate": 0}


@pytest.mark.parametrize("status,actual_qty,expected", [
    ("NEW", None, OrderStatus.NEW), ("TRIGGERING", None, OrderStatus.NEW), ("TRIGGERED", None, OrderStatus.NEW),
    ("FINISHED", "0.010", OrderStatus.FILLED), ("FINISHED", "0", OrderStatus.EXPIRED),
    ("CANCELED", None, OrderStatus.CANCELED), ("REJECTED", None, OrderStatus.REJECTED),
    ("EXPIRED", None, OrderStatus.EXPIRED)])
def test_algo_status_mapping(status, actual_qty, expected):
    d = dict(ALGO, algoStatus=status)
    if actual_qty is not None:
        d.update(actualQty=actual_qty, actualPrice="57994.10", actualOrderId="812345678901")
    view = algo_order(d)
    assert view.order.status is expected and view.algo_status == status
    assert view.order.order_id == 4000000123456789 and view.order.client_order_id == "sl-btc-42"
    assert view.order.stop_price == Decimal("58000.00") and view.order.reduce_only
    assert view.order.time_in_force is TimeInForce.GTC                   # GTE_GTC read leniently
    assert view.child_order_id == (812345678901 if actual_qty is not None else None)


def test_unknown_algo_status_is_a_wire_error():
    with pytest.raises(WireError):
        algo_order(dict(ALGO, algoStatus="PAUSED"))


def test_algo_update_event_parses_as_an_order_update():
    raw = {"e": "ALGO_UPDATE", "T": 1750515742297, "E": 1750515742303, "o": {
        "caid": "sl-btc-42", "aid": 4000000123456789, "at": "CONDITIONAL", "o": "STOP_MARKET", "s": "BTCUSDT",
        "S": "SELL", "ps": "BOTH", "f": "GTC", "q": "0.010", "X": "TRIGGERED", "ai": "812345678901", "ap": "0",
        "aq": "0", "act": "MARKET", "tp": "58000.00", "p": "0", "V": "NONE", "wt": "MARK_PRICE", "pm": "NONE",
        "cp": False, "pP": False, "R": True, "tt": 1750515742290, "gtd": 0, "rm": ""}}
    event, view = algo_update(raw)
    assert event.order.order_id == 4000000123456789 and event.order.status is OrderStatus.NEW
    assert event.execution_type is ExecutionType.NEW and event.last_filled_qty == 0
    assert view.child_order_id == 812345678901 and view.algo_status == "TRIGGERED"
    assert user_event(raw) == event
    finished = dict(raw, o=dict(raw["o"], X="FINISHED", aq="0.010", ap="57994.1"))
    assert user_event(finished).order.status is OrderStatus.FILLED
    assert user_event(finished).execution_type is ExecutionType.TRADE
    rejected = dict(raw, o=dict(raw["o"], X="REJECTED", ai="", rm="Reduce Only reject"))
    assert user_event(rejected).order.status is OrderStatus.REJECTED


def test_algo_service_weights_and_order_count():
    from mraster.exchange.ratelimit import request_weight
    assert request_weight("POST", "/fapi/v1/algoOrder", {}) == 0
    assert request_weight("GET", "/fapi/v1/openAlgoOrders", {}) == 40
    assert request_weight("GET", "/fapi/v1/openAlgoOrders", {"symbol": "BTCUSDT"}) == 1
    bn = P.get_profile("binance-usdm")
    assert ("POST", "/fapi/v1/algoOrder") in bn.order_paths()
    assert ("POST", "/fapi/v3/order") in P.get_profile("aster-v3").order_paths()


def test_exchange_info_mismatch_both_ways():
    aster_like = {"symbols": [{"symbol": "BTCUSDT", "filters": [{"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10}]}]}
    binance_like = {"symbols": [{"symbol": "BTCUSDT", "filters": [{"filterType": "PRICE_FILTER"}]}]}
    v1, v3, bn = (P.get_profile(n) for n in ("aster-v1", "aster-v3", "binance-usdm"))
    assert P.exchange_info_mismatch(v1, aster_like) == P.exchange_info_mismatch(v3, aster_like) == ""
    assert P.exchange_info_mismatch(bn, binance_like) == ""
    assert "like Aster" in P.exchange_info_mismatch(bn, aster_like)
    assert "like Binance" in P.exchange_info_mismatch(v1, binance_like)
    assert P.exchange_info_mismatch(v1, {"symbols": []}) == ""            # nothing listed: no verdict
