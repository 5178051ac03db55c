"""Contract specifications for the paper venue's symbols.

Known symbols take their filters from a real recorded Binance USD-M exchangeInfo (mraster/data/, July
2021); unknown ones get filters derived from their price level the way the venue sets them
(tick about 1e-4 of the price, a minimum order of a few USDT). A quantity step whose minimum order
would cost more than MAX_MIN_ORDER_USDT at today's price level is made finer (x0.1 each time).
"""
from __future__ import annotations

import json
import math
import zlib
from decimal import Decimal
from functools import lru_cache
from typing import Any

from mraster.domain.rules import SymbolRules
from paper.engine.specs import SymbolSpec, brackets_for

from mraster.data import DATA_DIR
EXCHANGE_INFO = DATA_DIR / "exchange_info_binance_um_2021-07.json"
MAX_MIN_ORDER_USDT = Decimal(100)
ORDER_TYPES = ("LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
               "TRAILING_STOP_MARKET")
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX", "HIDDEN")


def _d(x: Any) -> Decimal:
    return Decimal(str(x))


@lru_cache(maxsize=1)
def recorded_exchange_info() -> dict[str, dict]:
    with open(EXCHANGE_INFO, encoding="utf-8") as fh:
        data = json.load(fh)
    return {s["symbol"]: s for s in data["symbols"] if s.get("contractType") == "PERPETUAL"}


def spec_from_exchange_info(entry: dict, *, order_types: tuple[str, ...] | None = None,
                            time_in_force: tuple[str, ...] | None = None) -> SymbolSpec:
    """A venue exchangeInfo symbol entry (recorded or live upstream) -> SymbolSpec."""
    f = {x["filterType"]: x for x in entry.get("filters", [])}
    price_f, lot = f.get("PRICE_FILTER", {}), f.get("LOT_SIZE", {})
    mlot, pct = f.get("MARKET_LOT_SIZE"), f.get("PERCENT_PRICE")
    notional = f.get("MIN_NOTIONAL", {}).get("notional", f.get("MIN_NOTIONAL", {}).get("minNotional", "0"))
    rules = SymbolRules(
        symbol=entry["symbol"], tick_size=_d(price_f.get("tickSize", "0.01")), step_size=_d(lot.get("stepSize", "0.001")),
        min_qty=_d(lot.get("minQty", "0")), max_qty=_d(lot.get("maxQty", "0")), min_notional=_d(notional),
        min_price=_d(price_f.get("minPrice", "0")), max_price=_d(price_f.get("maxPrice", "0")),
        market_step_size=_d(mlot["stepSize"]) if mlot else None,
        market_min_qty=_d(mlot["minQty"]) if mlot else None, market_max_qty=_d(mlot["maxQty"]) if mlot else None,
        price_precision=int(entry.get("pricePrecision", 8)), quantity_precision=int(entry.get("quantityPrecision", 8)),
        status=entry.get("status", "TRADING"), contract_type=entry.get("contractType", "PERPETUAL"),
        base_asset=entry.get("baseAsset", ""), quote_asset=entry.get("quoteAsset", "USDT"),
        margin_asset=entry.get("marginAsset", "USDT"),
        max_num_orders=int(f.get("MAX_NUM_ORDERS", {}).get("limit", 200)),
        max_num_algo_orders=int(f.get("MAX_NUM_ALGO_ORDERS", {}).get("limit", 10)),
        multiplier_up=_d(pct["multiplierUp"]) if pct else None,
        multiplier_down=_d(pct["multiplierDown"]) if pct else None,
        trigger_protect=_d(entry["triggerProtect"]) if entry.get("triggerProtect") else None,
        order_types=tuple(order_types or entry.get("orderTypes") or entry.get("OrderType") or ORDER_TYPES),
        time_in_force=tuple(time_in_force or entry.get("timeInForce") or TIME_IN_FORCE),
    )
    return SymbolSpec(rules, brackets_for(rules.symbol), _d(entry.get("liquidationFee", "0.0125")),
                      _d(entry.get("marketTakeBound", "0.30")), int(entry.get("onboardDate", 1569398400000)))


def _finer_lot(entry: dict, price: Decimal) -> dict:
    """Make the quantity step finer while its minimum order costs more than MAX_MIN_ORDER_USDT."""
    entry = json.loads(json.dumps(entry))
    f = {x["filterType"]: x for x in entry["filters"]}
    lot, mlot = f["LOT_SIZE"], f.get("MARKET_LOT_SIZE")
    precision = int(entry["quantityPrecision"])
    while _d(lot["minQty"]) * price > MAX_MIN_ORDER_USDT and precision < 8:
        precision += 1
        for flt in (lot, mlot):
            if flt:
                flt["stepSize"] = str(_d(flt["stepSize"]) / 10)
                flt["minQty"] = str(_d(flt["minQty"]) / 10)
    entry["quantityPrecision"] = precision
    return entry


def synthetic_entry(symbol: str, price: float) -> dict:
    """Filters for a symbol the recording does not know, scaled to its price level."""
    exp_tick = math.floor(math.log10(price)) - 4
    tick = Decimal(1).scaleb(exp_tick)
    price_precision = max(0, -exp_tick)
    exp_step = math.ceil(math.log10(5.0 / price)) if price < 5 else -int(math.ceil(math.log10(price / 5.0)))
    exp_step = min(exp_step, 3)
    step = Decimal(1).scaleb(exp_step) if exp_step < 0 else Decimal(10) ** exp_step
    qty_precision = max(0, -exp_step)
    min_price = tick * max(1, int(price * 0.01 / float(tick)))
    return {
        "symbol": symbol, "pair": symbol, "contractType": "PERPETUAL", "status": "TRADING",
        "baseAsset": symbol[:-4] if symbol.endswith("USDT") else symbol, "quoteAsset": "USDT",
        "marginAsset": "USDT", "pricePrecision": price_precision, "quantityPrecision": qty_precision,
        "triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.30",
        "onboardDate": 1569398400000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": str(min_price), "maxPrice": str(Decimal(str(price)) * 100),
             "tickSize": str(tick)},
            {"filterType": "LOT_SIZE", "stepSize": str(step), "minQty": str(step),
             "maxQty": str(step * 10_000_000)},
            {"filterType": "MARKET_LOT_SIZE", "stepSize": str(step), "minQty": str(step),
             "maxQty": str(step * 1_000_000)},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": "5"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.1500", "multiplierDown": "0.8500",
             "multiplierDecimal": "4"},
        ],
    }


def symbol_hash(symbol: str) -> int:
    return zlib.crc32(symbol.encode())


def spec_for(symbol: str, price: float) -> tuple[SymbolSpec, dict]:
    """(spec, exchangeInfo entry) for `symbol` at price level `price`."""
    known = recorded_exchange_info().get(symbol)
    entry = _finer_lot(known, _d(price)) if known else synthetic_entry(symbol, price)
    entry = dict(entry, orderTypes=list(ORDER_TYPES), timeInForce=list(TIME_IN_FORCE))
    return spec_from_exchange_info(entry), entry
