"""Wire JSON -> domain events, for WebSocket market and user-data streams.

Unknown event types give `None` (venues add events); a known event with a
missing or unreadable field raises `WireError`, which the stream reports and
turns into a resynchronisation instead of a silent gap.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mraster.domain.types import (
    ZERO, AccountConfigUpdate, AccountUpdate, AggTrade, AggTradeEvent, BalanceChange, BookTicker, BookTickerEvent,
    DepthEvent, ExecutionType, Kline, KlineEvent, ListenKeyExpired, MarginCall, MarketEvent, MarkPrice,
    MarkPriceEvent, Order, OrderStatus, OrderType, OrderUpdate, PositionChange, PositionSide, Side, TimeInForce,
    UserEvent, WorkingType,
)
from mraster.exchange.wire_algo import algo_update
from mraster.exchange.wire import WireError, boolean, dec, enum, integer, levels, num, obj, opt, raw, req, text, time_in_force


# ----------------------------------------------------------------- market
def kline_event(d: Mapping[str, Any]) -> KlineEvent:
    k = req(d, "k", obj)
    kline = Kline(open_time=req(k, "t", integer), open=req(k, "o", num), high=req(k, "h", num), low=req(k, "l", num),
                  close=req(k, "c", num), volume=req(k, "v", num), close_time=req(k, "T", integer),
                  quote_volume=opt(k, "q", num, 0.0), trades=opt(k, "n", integer, 0),
                  taker_buy_volume=opt(k, "V", num, 0.0), taker_buy_quote_volume=opt(k, "Q", num, 0.0),
                  closed=req(k, "x", boolean))
    return KlineEvent(symbol=req(d, "s", text), interval=req(k, "i", text), kline=kline,
                      event_time=req(d, "E", integer))


def book_ticker_event(d: Mapping[str, Any]) -> BookTickerEvent:
    t = BookTicker(symbol=req(d, "s", text), bid_price=req(d, "b", num), bid_qty=req(d, "B", num),
                   ask_price=req(d, "a", num), ask_qty=req(d, "A", num), time=opt(d, "T", integer, 0),
                   update_id=opt(d, "u", integer, 0))
    return BookTickerEvent(ticker=t, event_time=opt(d, "E", integer, t.time))


def mark_price_event(d: Mapping[str, Any]) -> MarkPriceEvent:
    event_time = req(d, "E", integer)
    m = MarkPrice(symbol=req(d, "s", text), mark_price=req(d, "p", num), index_price=opt(d, "i", num, 0.0),
                  funding_rate=opt(d, "r", num, 0.0), next_funding_time=opt(d, "T", integer, 0), time=event_time,
                  estimated_settle_price=opt(d, "P", num, 0.0))
    return MarkPriceEvent(mark=m, event_time=event_time)


def agg_trade_event(d: Mapping[str, Any]) -> AggTradeEvent:
    t = AggTrade(symbol=req(d, "s", text), agg_id=req(d, "a", integer), price=req(d, "p", num), qty=req(d, "q", num),
                 first_trade_id=opt(d, "f", integer, 0), last_trade_id=opt(d, "l", integer, 0),
                 time=req(d, "T", integer), buyer_is_maker=req(d, "m", boolean))
    return AggTradeEvent(trade=t, event_time=req(d, "E", integer))


def depth_event(d: Mapping[str, Any]) -> DepthEvent:
    return DepthEvent(symbol=req(d, "s", text), first_update_id=opt(d, "U", integer, 0),
                      final_update_id=req(d, "u", integer), prev_final_update_id=opt(d, "pu", integer, 0),
                      bids=levels(req(d, "b", raw), "bids"), asks=levels(req(d, "a", raw), "asks"),
                      event_time=req(d, "E", integer), transaction_time=opt(d, "T", integer, 0))


_MarketParser = Callable[[Mapping[str, Any]], MarketEvent]
_UserParser = Callable[[Mapping[str, Any]], UserEvent]

_MARKET: dict[str, _MarketParser] = {
    "kline": kline_event, "bookTicker": book_ticker_event, "markPriceUpdate": mark_price_event,
    "aggTrade": agg_trade_event, "depthUpdate": depth_event}


def market_events(data: Any) -> list[MarketEvent]:
    """Events of one stream payload (an array for `!...@arr` streams). Unknown types are skipped."""
    items = data if isinstance(data, list) else [data]
    out: list[MarketEvent] = []
    for item in items:
        if not isinstance(item, dict):
            raise WireError(f"stream payload must be an object, got {type(item).__name__}")
        kind = item.get("e")
        if kind is None and {"b", "a", "B", "A", "s"} <= item.keys():
            kind = "bookTicker"            # some venues omit `e` on bookTicker
        parser = _MARKET.get(str(kind))
        if parser is not None:
            out.append(parser(item))
    return out


# ------------------------------------------------------------------- user
def _stream_order(o: Mapping[str, Any]) -> Order:
    executed = opt(o, "z", dec, ZERO)
    avg = opt(o, "ap", dec, ZERO)
    return Order(
        symbol=req(o, "s", text), order_id=req(o, "i", integer), client_order_id=req(o, "c", text),
        side=enum(Side, req(o, "S", text), "S"), type=enum(OrderType, req(o, "o", text), "o"),
        status=enum(OrderStatus, req(o, "X", text), "X"), orig_qty=req(o, "q", dec), executed_qty=executed,
        price=opt(o, "p", dec, ZERO), avg_price=avg, stop_price=opt(o, "sp", dec, ZERO), cum_quote=executed * avg,
        orig_type=enum(OrderType, o["ot"], "ot") if o.get("ot") else None,
        time_in_force=opt(o, "f", time_in_force, TimeInForce.GTC),
        position_side=enum(PositionSide, o.get("ps") or "BOTH", "ps"),
        reduce_only=opt(o, "R", boolean, False), close_position=opt(o, "cp", boolean, False),
        working_type=enum(WorkingType, o.get("wt") or "CONTRACT_PRICE", "wt"),
        price_protect=opt(o, "pP", boolean, False), activate_price=opt(o, "AP", dec, None),
        price_rate=opt(o, "cr", dec, None), update_time=opt(o, "T", integer, 0))


def order_update(d: Mapping[str, Any]) -> OrderUpdate:
    o = req(d, "o", obj)
    return OrderUpdate(event_time=req(d, "E", integer), transaction_time=opt(d, "T", integer, 0),
                       order=_stream_order(o), execution_type=enum(ExecutionType, req(o, "x", text), "x"),
                       last_filled_qty=opt(o, "l", dec, ZERO), last_filled_price=opt(o, "L", dec, ZERO),
                       commission=opt(o, "n", dec, ZERO), commission_asset=opt(o, "N", text, ""),
                       trade_id=opt(o, "t", integer, 0), realized_pnl=opt(o, "rp", dec, ZERO),
                       maker=opt(o, "m", boolean, False))


def _position_change(p: Mapping[str, Any]) -> PositionChange:
    return PositionChange(symbol=req(p, "s", text), position_side=enum(PositionSide, p.get("ps") or "BOTH", "ps"),
                          amount=req(p, "pa", dec), entry_price=opt(p, "ep", dec, ZERO),
                          unrealized_pnl=opt(p, "up", dec, ZERO), accumulated_realized=opt(p, "cr", dec, ZERO),
                          margin_type=str(p.get("mt") or "cross").lower(), isolated_wallet=opt(p, "iw", dec, ZERO))


def account_update(d: Mapping[str, Any]) -> AccountUpdate:
    a = req(d, "a", obj)
    balances = tuple(BalanceChange(asset=req(b, "a", text), wallet_balance=req(b, "wb", dec),
                                   cross_wallet_balance=opt(b, "cw", dec, ZERO), balance_change=opt(b, "bc", dec, ZERO))
                     for b in a.get("B") or ())
    positions = tuple(_position_change(p) for p in a.get("P") or ())
    return AccountUpdate(event_time=req(d, "E", integer), transaction_time=opt(d, "T", integer, 0),
                         reason=opt(a, "m", text, ""), balances=balances, positions=positions)


def account_config_update(d: Mapping[str, Any]) -> AccountConfigUpdate:
    ac, ai = d.get("ac") or {}, d.get("ai") or {}
    return AccountConfigUpdate(event_time=req(d, "E", integer), transaction_time=opt(d, "T", integer, 0),
                               symbol=opt(ac, "s", text, ""), leverage=opt(ac, "l", integer, None),
                               dual_side_position=opt(ai, "d", boolean, None))


def margin_call(d: Mapping[str, Any]) -> MarginCall:
    return MarginCall(event_time=req(d, "E", integer), cross_wallet_balance=opt(d, "cw", dec, ZERO),
                      positions=tuple(_position_change(p) for p in d.get("p") or ()))


def listen_key_expired(d: Mapping[str, Any]) -> ListenKeyExpired:
    return ListenKeyExpired(event_time=req(d, "E", integer))


def _algo_update(d: Mapping[str, Any]) -> OrderUpdate:
    """Binance Algo Service (see wire_algo); never sent by Aster."""
    return algo_update(d)[0]


_USER: dict[str, _UserParser] = {
    "ORDER_TRADE_UPDATE": order_update, "ACCOUNT_UPDATE": account_update,
    "ACCOUNT_CONFIG_UPDATE": account_config_update, "MARGIN_CALL": margin_call,
    "listenKeyExpired": listen_key_expired, "ALGO_UPDATE": _algo_update}


def user_event(data: Any) -> UserEvent | None:
    if not isinstance(data, dict):
        raise WireError(f"user-data payload must be an object, got {type(data).__name__}")
    parser = _USER.get(str(data.get("e")))
    return parser(data) if parser is not None else None

