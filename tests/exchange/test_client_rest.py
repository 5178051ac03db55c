"""Every REST method of the client against the local venue: domain types out, never raw dicts."""
from __future__ import annotations

from decimal import Decimal

import pytest

from mraster.domain.types import AccountInfo, Balance, BookTicker, DepthSnapshot, MarginType, MarkPrice
from mraster.exchange.errors import RequestError


async def test_market_data(venue, make_client):
    client = make_client()
    rules = await client.symbol_rules()
    assert rules["ETHUSDT"].tick_size == Decimal("0.01")
    assert await client.symbol_rules() == rules and venue.count("GET", "/fapi/v1/exchangeInfo") == 1
    await client.symbol_rules(refresh=True)
    assert venue.count("GET", "/fapi/v1/exchangeInfo") == 2
    ticker = await client.book_ticker("BTCUSDT")
    assert isinstance(ticker, BookTicker) and ticker.spread_fraction == pytest.approx(0.1 / 100.05)
    mark = await client.mark_price("BTCUSDT")
    assert isinstance(mark, MarkPrice) and mark.funding_rate == 0.0001
    depth = await client.depth("BTCUSDT", limit=5)
    assert isinstance(depth, DepthSnapshot) and depth.bids[0] == (100.0, 1.0)
    assert venue.requests("GET", "/fapi/v1/depth")[-1].params == {"symbol": "BTCUSDT", "limit": "5"}
    assert await client.agg_trades("BTCUSDT", start_time=5) == []
    assert venue.requests("GET", "/fapi/v1/aggTrades")[-1].params == {"symbol": "BTCUSDT", "startTime": "5",
                                                                      "limit": "500"}


async def test_account_endpoints(venue, make_client):
    venue.positions = [
        {"symbol": "BTCUSDT", "positionAmt": "0.010", "entryPrice": "30000.5", "markPrice": "30100", "leverage": "3",
         "marginType": "isolated", "isolatedMargin": "100.1", "unRealizedProfit": "1.0", "liquidationPrice": "20000",
         "positionSide": "BOTH", "updateTime": 5, "isAutoAddMargin": "false", "maxNotionalValue": "1000000"},
        {"symbol": "ETHUSDT", "positionAmt": "0.000", "entryPrice": "0.0", "markPrice": "2000", "leverage": "20",
         "marginType": "cross", "isolatedMargin": "0", "unRealizedProfit": "0", "liquidationPrice": "0",
         "positionSide": "BOTH", "updateTime": 0},
    ]
    client = make_client()
    positions = await client.positions()
    assert [p.symbol for p in positions] == ["BTCUSDT"]            # flat rows are dropped
    assert positions[0].margin_type is MarginType.ISOLATED and positions[0].leverage == 3
    balances = await client.balances()
    assert isinstance(balances[0], Balance) and balances[0].wallet_balance == Decimal("1000.5")
    account = await client.account()
    assert isinstance(account, AccountInfo) and account.safety_multiple == Decimal("100.5")
    assert (await client.set_leverage("BTCUSDT", 5)).leverage == 5
    await client.set_margin_type("BTCUSDT", MarginType.ISOLATED)       # -4046 "no need to change": success
    await client.set_position_mode(False)
    assert await client.get_position_mode() is False
    assert await client.commission_rate("BTCUSDT") == (Decimal("0.0002"), Decimal("0.0004"))
    assert (await client.income(income_type="TRANSFER"))[0].tran_id == "9"
    assert await client.user_trades("BTCUSDT", from_id=3) == []
    assert venue.requests("GET", "/fapi/v1/userTrades")[-1].params["fromId"] == "3"


async def test_account_falls_back_to_v2_once(venue, make_client):
    venue.account_v4 = False
    client = make_client()
    await client.account()
    await client.account()
    assert venue.count("GET", "/fapi/v4/account") == 1 and venue.count("GET", "/fapi/v2/account") == 2


async def test_margin_type_change_refused_for_other_reasons_raises(venue, make_client):
    venue.add_fault("POST", "/fapi/v1/marginType", "status", status=400,
                    body={"code": -4048, "msg": "Margin type cannot be changed if there exists position."})
    client = make_client()
    with pytest.raises(RequestError) as info:
        await client.set_margin_type("BTCUSDT", MarginType.CROSSED)
    assert info.value.code == -4048


async def test_status_snapshot(venue, make_client):
    venue.used_weight_header = 37
    client = make_client()
    await client.book_ticker("BTCUSDT")
    status = client.status()
    assert status.used_weight_1m == 37 and status.banned_until_ms is None and status.last_error == ""
    assert status.stale_streams == {} and status.order_count_1m == 0
