"""Wire JSON -> domain types, for REST responses.

Tolerant of the venue's quirks (numbers as strings or as numbers, ids as
strings in some captures, unknown extra keys, optional keys missing) and strict
about what matters: a missing or unreadable price, quantity, id, side, type or
status raises `MalformedResponseError` naming the endpoint and the field, via
`parse(endpoint, fn, data)`, instead of failing somewhere deep in the bot.
"""
from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from enum import Enum
from collections.abc import Mapping
from typing import Any, Callable, TypeVar

from mraster.domain.rules import SymbolRules
from mraster.domain.types import (
    ZERO, AccountInfo, AggTrade, Balance, BookTicker, DepthSnapshot, IncomeRecord, Kline, LeverageInfo, MarginType,
    MarkPrice, Order, OrderStatus, OrderType, Position, PositionSide, Side, Ticker24h, TimeInForce, UserTrade,
    WorkingType,
)
from mraster.logs import get_logger
from mraster.exchange.errors import MalformedResponseError

log = get_logger("mraster.exchange.wire")
T = TypeVar("T")
E = TypeVar("E", bound=Enum)


class WireError(ValueError):
    """A field is missing or unreadable; `parse` turns it into MalformedResponseError."""


def parse(endpoint: str, fn: Callable[..., T], *args: Any) -> T:
    """Run a parser; any failure becomes MalformedResponseError naming the endpoint."""
    try:
        return fn(*args)
    except MalformedResponseError:
        raise
    except (WireError, KeyError, ValueError, TypeError, AttributeError, IndexError, InvalidOperation) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise MalformedResponseError(f"unreadable response: {what}", endpoint=endpoint) from exc


# -------------------------------------------------------------------- fields
def dec(value: Any, name: str = "value") -> Decimal:
    if isinstance(value, bool) or value is None:
        raise WireError(f"{name}: expected a decimal, got {value!r}")
    try:
        out = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise WireError(f"{name}: expected a decimal, got {value!r}") from None
    if not out.is_finite():
        raise WireError(f"{name}: not a finite number: {value!r}")
    return out


def num(value: Any, name: str = "value") -> float:
    if isinstance(value, bool) or value is None:
        raise WireError(f"{name}: expected a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise WireError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(out):
        raise WireError(f"{name}: not a finite number: {value!r}")
    return out


def integer(value: Any, name: str = "value") -> int:
    if isinstance(value, bool) or value is None:
        raise WireError(f"{name}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise WireError(f"{name}: expected an integer, got {value!r}") from None
    if not d.is_finite() or d != d.to_integral_value():
        raise WireError(f"{name}: expected an integer, got {value!r}")
    return int(d)


def boolean(value: Any, name: str = "value") -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise WireError(f"{name}: expected true/false, got {value!r}")


def enum(cls: type[E], value: Any, name: str) -> E:
    try:
        return cls(str(value).upper())
    except ValueError:
        raise WireError(f"{name}: unknown value {value!r}") from None


def req(d: Mapping[str, Any], key: str, conv: Callable[[Any, str], T]) -> T:
    if not isinstance(d, dict):
        raise WireError(f"expected an object, got {type(d).__name__}")
    if key not in d:
        raise WireError(f"missing field {key!r}")
    return conv(d[key], key)


def opt(d: Mapping[str, Any], key: str, conv: Callable[[Any, str], T], default: T) -> T:
    value = d.get(key)
    if value is None or value == "":
        return default
    return conv(value, key)


def text(value: Any, name: str = "value") -> str:
    if value is None or isinstance(value, (dict, list)):
        raise WireError(f"{name}: expected text, got {value!r}")
    return str(value)


def margin_type(value: Any, name: str = "marginType") -> MarginType:
    v = str(value).lower()
    if v == "isolated":
        return MarginType.ISOLATED
    if v in ("cross", "crossed"):
        return MarginType.CROSSED
    raise WireError(f"{name}: unknown value {value!r}")


def time_in_force(value: Any, name: str = "timeInForce") -> TimeInForce:
    """Lenient: venues add values (Binance's GTE_GTC on close-position stops); fall back to GTC."""
    try:
        return TimeInForce(str(value).upper())
    except ValueError:
        return TimeInForce.GTC


def raw(value: Any, name: str = "value") -> Any:
    return value


def obj(value: Any, name: str = "value") -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise WireError(f"{name}: expected an object, got {type(value).__name__}")
    return value


def listing(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise WireError(f"expected a list of {what}, got {type(data).__name__}")
    return data


# -------------------------------------------------------------- market data
def server_time(data: Any) -> int:
    return req(data, "serverTime", integer)


def _filters(sym: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {f.get("filterType", ""): f for f in sym.get("filters", []) if isinstance(f, dict)}


def symbol_rules(sym: Mapping[str, Any]) -> SymbolRules:
    f = _filters(sym)
    price, lot = f.get("PRICE_FILTER"), f.get("LOT_SIZE")
    if price is None or lot is None:
        raise WireError(f"symbol {sym.get('symbol')!r} lacks PRICE_FILTER or LOT_SIZE")
    market = f.get("MARKET_LOT_SIZE")
    notional = f.get("MIN_NOTIONAL", {})
    pct = f.get("PERCENT_PRICE", {})
    order_types = sym.get("orderTypes") or sym.get("OrderType") or ()
    return SymbolRules(
        symbol=req(sym, "symbol", text),
        tick_size=req(price, "tickSize", dec), step_size=req(lot, "stepSize", dec),
        min_qty=req(lot, "minQty", dec), max_qty=req(lot, "maxQty", dec),
        min_notional=opt(notional, "notional", dec, opt(notional, "minNotional", dec, ZERO)),
        min_price=opt(price, "minPrice", dec, ZERO), max_price=opt(price, "maxPrice", dec, ZERO),
        market_step_size=opt(market, "stepSize", dec, None) if market else None,
        market_min_qty=opt(market, "minQty", dec, None) if market else None,
        market_max_qty=opt(market, "maxQty", dec, None) if market else None,
        price_precision=opt(sym, "pricePrecision", integer, 8),
        quantity_precision=opt(sym, "quantityPrecision", integer, 8),
        status=opt(sym, "status", text, "TRADING"), contract_type=opt(sym, "contractType", text, "PERPETUAL"),
        base_asset=opt(sym, "baseAsset", text, ""), quote_asset=opt(sym, "quoteAsset", text, "USDT"),
        margin_asset=opt(sym, "marginAsset", text, "USDT"),
        max_num_orders=opt(f.get("MAX_NUM_ORDERS", {}), "limit", integer, 200),
        max_num_algo_orders=opt(f.get("MAX_NUM_ALGO_ORDERS", {}), "limit", integer, 100),
        multiplier_up=opt(pct, "multiplierUp", dec, None), multiplier_down=opt(pct, "multiplierDown", dec, None),
        trigger_protect=opt(sym, "triggerProtect", dec, None),
        order_types=tuple(str(t) for t in order_types),
        time_in_force=tuple(str(t) for t in sym.get("timeInForce") or ()),
    )


def exchange_info(data: Any) -> tuple[dict[str, SymbolRules], int | None, int | None]:
    """(rules by symbol, request-weight limit per minute, order limit per minute). A symbol whose filters
    are unreadable is left out with a warning; a response without symbols is malformed."""
    symbols = listing(req(data, "symbols", raw), "symbols")
    rules: dict[str, SymbolRules] = {}
    for sym in symbols:
        try:
            r = symbol_rules(sym)
        except (WireError, KeyError, TypeError, ValueError, InvalidOperation) as exc:
            log.warning("wire.symbol_skipped", f"exchangeInfo entry left out: {exc}",
                        symbol=str(sym.get("symbol", "?")) if isinstance(sym, dict) else "?")
            continue
        rules[r.symbol] = r
    weight_limit = order_limit = None
    for lim in data.get("rateLimits") or ():
        if not isinstance(lim, dict) or lim.get("interval") != "MINUTE" or integer(lim.get("intervalNum", 1)) != 1:
            continue
        if lim.get("rateLimitType") == "REQUEST_WEIGHT":
            weight_limit = integer(lim.get("limit"), "limit")
        elif lim.get("rateLimitType") == "ORDERS":
            order_limit = integer(lim.get("limit"), "limit")
    return rules, weight_limit, order_limit


def kline_row(row: Any, now_ms: int) -> Kline:
    if not isinstance(row, (list, tuple)) or len(row) < 7:
        raise WireError(f"kline row must be an array of at least 7 items, got {str(row)[:80]!r}")
    close_time = integer(row[6], "close time")
    return Kline(
        open_time=integer(row[0], "open time"), open=num(row[1], "open"), high=num(row[2], "high"),
        low=num(row[3], "low"), close=num(row[4], "close"), volume=num(row[5], "volume"), close_time=close_time,
        quote_volume=num(row[7], "quote volume") if len(row) > 7 else 0.0,
        trades=integer(row[8], "trades") if len(row) > 8 else 0,
        taker_buy_volume=num(row[9], "taker buy volume") if len(row) > 9 else 0.0,
        taker_buy_quote_volume=num(row[10], "taker buy quote volume") if len(row) > 10 else 0.0,
        closed=close_time < now_ms,
    )


def _kline_row_fast(row: Any, now_ms: int) -> Kline:
    """The common case, a full row as the venue sends it (int times, decimal strings), in about a third
    of kline_row's time; anything else raises and the caller falls back to the careful parser."""
    t0, o, h, lo, c, v, t1, qv, n, tb, tq = row[:11]
    if not (type(t0) is int and type(t1) is int and type(n) is int and type(o) is str and type(h) is str
            and type(lo) is str and type(c) is str and type(v) is str and type(qv) is str and type(tb) is str
            and type(tq) is str):
        raise ValueError("not the common row shape")
    k = Kline(t0, float(o), float(h), float(lo), float(c), float(v), t1, float(qv), n, float(tb), float(tq),
              t1 < now_ms)
    if not math.isfinite(k.open + k.high + k.low + k.close + k.volume + k.quote_volume + k.taker_buy_volume
                         + k.taker_buy_quote_volume):
        raise ValueError("not finite")
    return k


def klines(data: Any, now_ms: int) -> list[Kline]:
    rows = listing(data, "klines")
    try:
        return [_kline_row_fast(row, now_ms) for row in rows]
    except (ValueError, TypeError):      # an unusual row: the careful parser names what is wrong with it
        return [kline_row(row, now_ms) for row in rows]


def book_ticker(d: Any) -> BookTicker:
    return BookTicker(symbol=req(d, "symbol", text), bid_price=req(d, "bidPrice", num), bid_qty=req(d, "bidQty", num),
                      ask_price=req(d, "askPrice", num), ask_qty=req(d, "askQty", num), time=opt(d, "time", integer, 0),
                      update_id=opt(d, "lastUpdateId", integer, 0))


def mark_price(d: Any) -> MarkPrice:
    return MarkPrice(symbol=req(d, "symbol", text), mark_price=req(d, "markPrice", num),
                     index_price=opt(d, "indexPrice", num, 0.0), funding_rate=opt(d, "lastFundingRate", num, 0.0),
                     next_funding_time=opt(d, "nextFundingTime", integer, 0), time=opt(d, "time", integer, 0),
                     estimated_settle_price=opt(d, "estimatedSettlePrice", num, 0.0),
                     interest_rate=opt(d, "interestRate", num, 0.0))


def ticker_24h(d: Any) -> Ticker24h:
    return Ticker24h(symbol=req(d, "symbol", text), last_price=req(d, "lastPrice", num),
                     open_price=opt(d, "openPrice", num, 0.0), high_price=opt(d, "highPrice", num, 0.0),
                     low_price=opt(d, "lowPrice", num, 0.0), volume=opt(d, "volume", num, 0.0),
                     quote_volume=req(d, "quoteVolume", num),
                     price_change_percent=opt(d, "priceChangePercent", num, 0.0),
                     open_time=opt(d, "openTime", integer, 0), close_time=opt(d, "closeTime", integer, 0),
                     count=opt(d, "count", integer, 0))


def level(row: Any, name: str) -> tuple[float, float]:
    if not isinstance(row, (list, tuple)) or len(row) < 2:
        raise WireError(f"{name}: a level must be [price, qty], got {str(row)[:40]!r}")
    return num(row[0], f"{name} price"), num(row[1], f"{name} qty")


def levels(rows: Any, name: str) -> tuple[tuple[float, float], ...]:
    return tuple(level(r, name) for r in listing(rows, name))


def depth(d: Any, symbol: str) -> DepthSnapshot:
    return DepthSnapshot(symbol=symbol, last_update_id=req(d, "lastUpdateId", integer),
                         bids=levels(req(d, "bids", raw), "bids"),
                         asks=levels(req(d, "asks", raw), "asks"), time=opt(d, "T", integer, 0))


def agg_trade(d: Any, symbol: str) -> AggTrade:
    return AggTrade(symbol=symbol, agg_id=req(d, "a", integer), price=req(d, "p", num), qty=req(d, "q", num),
                    first_trade_id=opt(d, "f", integer, 0), last_trade_id=opt(d, "l", integer, 0),
                    time=req(d, "T", integer), buyer_is_maker=req(d, "m", boolean))


# ------------------------------------------------------------------ account
def balance(d: Any) -> Balance:
    return Balance(asset=req(d, "asset", text), wallet_balance=req(d, "balance", dec),
                   cross_wallet_balance=opt(d, "crossWalletBalance", dec, ZERO),
                   cross_unrealized_pnl=opt(d, "crossUnPnl", dec, ZERO),
                   available_balance=req(d, "availableBalance", dec),
                   max_withdraw_amount=opt(d, "maxWithdrawAmount", dec, ZERO), update_time=opt(d, "updateTime", integer, 0))


def account_info(d: Any) -> AccountInfo:
    return AccountInfo(
        total_wallet_balance=req(d, "totalWalletBalance", dec),
        total_unrealized_profit=req(d, "totalUnrealizedProfit", dec),
        total_margin_balance=req(d, "totalMarginBalance", dec), total_maint_margin=req(d, "totalMaintMargin", dec),
        total_initial_margin=req(d, "totalInitialMargin", dec), available_balance=req(d, "availableBalance", dec),
        can_trade=opt(d, "canTrade", boolean, True), update_time=opt(d, "updateTime", integer, 0))


def position(d: Any) -> Position:
    return Position(
        symbol=req(d, "symbol", text), position_side=opt(d, "positionSide", _enum_of(PositionSide), PositionSide.BOTH),
        amount=req(d, "positionAmt", dec), entry_price=req(d, "entryPrice", dec),
        mark_price=opt(d, "markPrice", dec, ZERO), unrealized_pnl=opt(d, "unRealizedProfit", dec, ZERO),
        liquidation_price=opt(d, "liquidationPrice", dec, ZERO), leverage=opt(d, "leverage", integer, 1),
        margin_type=opt(d, "marginType", margin_type, MarginType.CROSSED),
        isolated_margin=opt(d, "isolatedMargin", dec, ZERO), notional=opt(d, "notional", dec, ZERO),
        update_time=opt(d, "updateTime", integer, 0))


def order(d: Any) -> Order:
    orig_type = opt(d, "origType", _enum_of(OrderType), None)
    return Order(
        symbol=req(d, "symbol", text), order_id=req(d, "orderId", integer), client_order_id=req(d, "clientOrderId", text),
        side=req(d, "side", _enum_of(Side)), type=req(d, "type", _enum_of(OrderType)),
        status=req(d, "status", _enum_of(OrderStatus)), orig_qty=req(d, "origQty", dec),
        executed_qty=opt(d, "executedQty", dec, ZERO), price=opt(d, "price", dec, ZERO),
        avg_price=opt(d, "avgPrice", dec, ZERO), stop_price=opt(d, "stopPrice", dec, ZERO),
        cum_quote=opt(d, "cumQuote", dec, ZERO), orig_type=orig_type,
        time_in_force=opt(d, "timeInForce", time_in_force, TimeInForce.GTC),
        position_side=opt(d, "positionSide", _enum_of(PositionSide), PositionSide.BOTH),
        reduce_only=opt(d, "reduceOnly", boolean, False), close_position=opt(d, "closePosition", boolean, False),
        working_type=opt(d, "workingType", _enum_of(WorkingType), WorkingType.CONTRACT_PRICE),
        price_protect=opt(d, "priceProtect", boolean, False), activate_price=opt(d, "activatePrice", dec, None),
        price_rate=opt(d, "priceRate", dec, None), time=opt(d, "time", integer, 0),
        update_time=opt(d, "updateTime", integer, 0))


def user_trade(d: Any) -> UserTrade:
    return UserTrade(
        symbol=req(d, "symbol", text), id=req(d, "id", integer), order_id=req(d, "orderId", integer),
        side=req(d, "side", _enum_of(Side)), price=req(d, "price", dec), qty=req(d, "qty", dec),
        quote_qty=opt(d, "quoteQty", dec, ZERO), commission=opt(d, "commission", dec, ZERO),
        commission_asset=opt(d, "commissionAsset", text, ""), realized_pnl=opt(d, "realizedPnl", dec, ZERO),
        maker=opt(d, "maker", boolean, False), time=req(d, "time", integer),
        position_side=opt(d, "positionSide", _enum_of(PositionSide), PositionSide.BOTH),
        buyer=opt(d, "buyer", boolean, False))


def income(d: Any) -> IncomeRecord:
    return IncomeRecord(symbol=opt(d, "symbol", text, ""), income_type=req(d, "incomeType", text),
                        income=req(d, "income", dec), asset=req(d, "asset", text), time=req(d, "time", integer),
                        tran_id=opt(d, "tranId", text, ""), trade_id=opt(d, "tradeId", text, ""),
                        info=opt(d, "info", text, ""))


def leverage_info(d: Any) -> LeverageInfo:
    return LeverageInfo(symbol=req(d, "symbol", text), leverage=req(d, "leverage", integer),
                        max_notional=opt(d, "maxNotionalValue", dec, ZERO))


def commission_rate(d: Any) -> tuple[Decimal, Decimal]:
    return req(d, "makerCommissionRate", dec), req(d, "takerCommissionRate", dec)


def listen_key(d: Any) -> str:
    key = req(d, "listenKey", text)
    if not key:
        raise WireError("empty listenKey")
    return key


def dual_side(d: Any) -> bool:
    return req(d, "dualSidePosition", boolean)


def many(fn: Callable[[Any], T], data: Any, what: str) -> list[T]:
    return [fn(item) for item in listing(data, what)]


def one_or_many(fn: Callable[[Any], T], data: Any, what: str) -> list[T]:
    """Endpoints that answer an object with `symbol` and an array without it."""
    return [fn(data)] if isinstance(data, dict) else many(fn, data, what)


def _enum_of(cls: type[E]) -> Callable[[Any, str], E]:
    return lambda value, name: enum(cls, value, name)

