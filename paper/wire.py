"""Engine records -> the venue's JSON shapes (reference sections 6-9). Prices, quantities and money
are strings, ids and times numbers, exactly as the venue sends them."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from mraster.domain.types import MarginType, OrderType
from paper.engine.margin import AccountView, PositionRisk
from paper.engine.model import AccountEvent, ConfigEvent, EAccount, EOrder, Fill, Income, MarginCallEvent, OrderEvent
from paper.engine.specs import SymbolSpec

D0 = Decimal(0)
_Q = {n: Decimal(1).scaleb(-n) for n in range(0, 13)}
_SPEC = {n: f".{n}f" for n in range(0, 13)}
_ZERO = {n: format(Decimal(0), f".{n}f") for n in range(0, 13)}


def fixed(value: Decimal | None, places: int) -> str:
    """Decimal -> plain string with exactly `places` decimals (the venue's formatting; half-even; no -0)."""
    places = min(places, 12)
    if not value:
        return _ZERO[places]
    text = format(value, _SPEC[places])
    return _ZERO[places] if text.startswith("-") and not text.strip("-0.") else text


def money(value: Decimal) -> str:
    return fixed(value, 8)


def plain(value: Decimal) -> str:
    text = f"{value.normalize():f}" if value else "0"
    return text


class Formats:
    """Per-symbol number formatting (price and quantity precision)."""

    def __init__(self, specs: dict[str, SymbolSpec]):
        self.specs = specs
        self.pp = {s: max(sp.rules.price_precision, _places(sp.tick)) for s, sp in specs.items()}
        self.qp = {s: sp.rules.quantity_precision for s, sp in specs.items()}

    def price(self, symbol: str, value: Decimal | None) -> str:
        return fixed(value or D0, self.pp.get(symbol, 8))

    def qty(self, symbol: str, value: Decimal | None) -> str:
        return fixed(value or D0, self.qp.get(symbol, 8))

    def ticks(self, symbol: str, ticks: int) -> str:
        return fixed(self.specs[symbol].tick * ticks, self.pp[symbol])


def _places(step: Decimal) -> int:
    exp = step.normalize().as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0


# ------------------------------------------------------------------------ orders
def order_json(o: EOrder, f: Formats) -> dict[str, Any]:
    """The venue's order object (enums go to orjson as members: it writes their values)."""
    s = o.symbol
    pp = f.pp.get(s, 8)
    qp = f.qp.get(s, 8)
    out = {
        "orderId": o.order_id, "symbol": s, "status": o.status, "clientOrderId": o.client_order_id,
        "price": fixed(o.price, pp), "avgPrice": fixed(o.avg_price, pp),
        "origQty": fixed(o.orig_qty if not (o.close_position and not o.triggered) else D0, qp),
        "executedQty": fixed(o.executed_qty, qp), "cumQty": fixed(o.executed_qty, qp),
        "cumQuote": fixed(o.cum_quote, 8), "timeInForce": o.time_in_force, "type": o.type,
        "origType": o.orig_type, "reduceOnly": o.reduce_only, "closePosition": o.close_position,
        "side": o.side, "positionSide": o.position_side, "stopPrice": fixed(o.stop_price, pp),
        "workingType": o.working_type, "priceProtect": o.price_protect, "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE", "goodTillDate": 0, "time": o.time, "updateTime": o.update_time,
    }
    if o.orig_type is OrderType.TRAILING_STOP_MARKET:
        out["activatePrice"] = fixed(o.activate_price, pp)
        out["priceRate"] = plain(o.price_rate or D0)
    return out


def order_update_json(e: OrderEvent, f: Formats) -> dict[str, Any]:
    o = e.order
    s = o.symbol
    status = (e.status_override or o.status).value
    data = {
        "s": s, "c": o.client_order_id, "S": o.side.value,
        "o": o.type.value, "f": o.time_in_force.value,
        "q": f.qty(s, o.orig_qty), "p": f.price(s, o.price), "ap": f.price(s, o.avg_price),
        "sp": f.price(s, o.stop_price), "x": e.execution_type.value, "X": status, "i": o.order_id,
        "l": f.qty(s, e.last_qty), "z": f.qty(s, o.executed_qty), "L": f.price(s, e.last_price),
        "T": e.time, "t": e.trade_id, "b": "0", "a": "0", "m": e.maker, "R": o.reduce_only,
        "wt": o.working_type.value, "ot": o.orig_type.value, "ps": o.position_side.value,
        "cp": o.close_position, "rp": money(e.realized_pnl), "pP": False, "si": 0, "ss": 0, "V": "NONE",
        "pm": "NONE", "gtd": 0,
    }
    if e.commission:
        data["N"], data["n"] = "USDT", money(e.commission)
    if o.orig_type is OrderType.TRAILING_STOP_MARKET:
        data["AP"] = f.price(s, o.activate_price)
        data["cr"] = plain(o.price_rate or D0)
    return {"e": "ORDER_TRADE_UPDATE", "E": e.time, "T": e.time, "o": data}


def account_update_json(e: AccountEvent, f: Formats) -> dict[str, Any]:
    return {
        "e": "ACCOUNT_UPDATE", "E": e.time, "T": e.time,
        "a": {
            "m": e.reason,
            "B": [{"a": "USDT", "wb": money(e.wallet), "cw": money(e.cross_wallet), "bc": money(e.balance_change)}],
            "P": [{"s": p.symbol, "pa": f.qty(p.symbol, p.amount), "ep": plain_price(p.entry_price),
                   "bep": plain_price(p.entry_price), "cr": money(p.realized), "up": money(p.unrealized_pnl),
                   "mt": "isolated" if p.margin_type is MarginType.ISOLATED else "cross",
                   "iw": money(p.isolated_wallet), "ps": p.position_side.value} for p in e.positions],
        },
    }


def config_update_json(e: ConfigEvent) -> dict[str, Any]:
    out: dict[str, Any] = {"e": "ACCOUNT_CONFIG_UPDATE", "E": e.time, "T": e.time}
    if e.leverage is not None:
        out["ac"] = {"s": e.symbol, "l": e.leverage}
    else:
        out["ai"] = {"j": bool(e.multi_assets) if e.multi_assets is not None else False,
                     "d": bool(e.dual_side) if e.dual_side is not None else False}
    return out


def margin_call_json(e: MarginCallEvent, f: Formats) -> dict[str, Any]:
    return {"e": "MARGIN_CALL", "E": e.time, "cw": money(e.cross_wallet),
            "p": [{"s": p.symbol, "ps": p.position_side.value, "pa": f.qty(p.symbol, p.amount),
                   "mt": "ISOLATED" if p.margin_type is MarginType.ISOLATED else "CROSSED",
                   "iw": money(p.isolated_wallet), "mp": plain_price(mark), "up": money(p.unrealized_pnl),
                   "mm": money(mm)} for p, mark, mm in e.positions]}


def force_order_json(o: EOrder, f: Formats) -> dict[str, Any]:
    s = o.symbol
    return {"e": "forceOrder", "E": o.update_time, "o": {
        "s": s, "S": o.side.value, "o": "LIMIT", "f": "IOC", "q": f.qty(s, o.orig_qty), "p": f.price(s, o.price),
        "ap": f.price(s, o.avg_price), "X": "FILLED", "l": f.qty(s, o.executed_qty), "z": f.qty(s, o.executed_qty),
        "T": o.update_time}}


def plain_price(value: Decimal) -> str:
    """Entry and mark prices: up to 8 decimals, trailing zeros dropped (as the venue shows them)."""
    if not value:
        return "0.0"
    return f"{value.quantize(_Q[8]).normalize():f}"


# ------------------------------------------------------------------------ account
def balance_json(acct: EAccount, v: AccountView) -> list[dict[str, Any]]:
    return [{"accountAlias": "paper", "asset": "USDT", "balance": money(v.wallet),
             "crossWalletBalance": money(v.cross_wallet), "crossUnPnl": money(v.cross_unrealized),
             "availableBalance": money(v.available), "maxWithdrawAmount": money(v.max_withdraw),
             "marginAvailable": True, "updateTime": acct.update_time}]


def account_json(acct: EAccount, v: AccountView, specs: dict[str, SymbolSpec], f: Formats,
                 default_leverage: int, can_trade: bool = True) -> dict[str, Any]:
    asset = {
        "asset": "USDT", "walletBalance": money(v.wallet), "unrealizedProfit": money(v.unrealized),
        "marginBalance": money(v.margin_balance), "maintMargin": money(v.maint), "initialMargin": money(v.initial),
        "positionInitialMargin": money(v.position_initial), "openOrderInitialMargin": money(v.order_initial),
        "crossWalletBalance": money(v.cross_wallet), "crossUnPnl": money(v.cross_unrealized),
        "availableBalance": money(v.available), "maxWithdrawAmount": money(v.max_withdraw),
        "marginAvailable": True, "updateTime": acct.update_time,
    }
    risks = {(r.pos.symbol, r.pos.position_side): r for r in v.positions}
    positions = []
    for symbol, spec in specs.items():
        lev = acct.leverage.get(symbol, default_leverage)
        isolated = acct.margin_type.get(symbol) is MarginType.ISOLATED
        sides = ("LONG", "SHORT") if acct.dual_side else ("BOTH",)
        for side in sides:
            pos = next((p for (s, ps), p in acct.positions.items() if s == symbol and ps.value == side), None)
            r = risks.get((symbol, pos.position_side)) if pos else None
            positions.append({
                "symbol": symbol, "initialMargin": money(r.initial if r else D0),
                "maintMargin": money(r.maint if r else D0), "unrealizedProfit": money(r.unrealized if r else D0),
                "positionInitialMargin": money(r.initial if r else D0), "openOrderInitialMargin": "0",
                "leverage": str(lev), "isolated": isolated,
                "entryPrice": plain_price(pos.entry_price if pos else D0),
                "breakEvenPrice": plain_price(pos.entry_price if pos else D0),
                "maxNotional": fixed(spec.max_notional(lev), 0), "positionSide": side,
                "positionAmt": f.qty(symbol, pos.amount if pos else D0),
                "notional": money(r.notional if r else D0), "isolatedWallet": money(pos.isolated_wallet if pos else D0),
                "updateTime": pos.update_time if pos else 0,
            })
    return {
        "feeTier": 0, "canTrade": can_trade, "canDeposit": True, "canWithdraw": True, "updateTime": acct.update_time,
        "multiAssetsMargin": acct.multi_assets, "tradeGroupId": -1,
        "totalInitialMargin": money(v.initial), "totalMaintMargin": money(v.maint),
        "totalWalletBalance": money(v.wallet), "totalUnrealizedProfit": money(v.unrealized),
        "totalMarginBalance": money(v.margin_balance), "totalPositionInitialMargin": money(v.position_initial),
        "totalOpenOrderInitialMargin": money(v.order_initial), "totalCrossWalletBalance": money(v.cross_wallet),
        "totalCrossUnPnl": money(v.cross_unrealized), "availableBalance": money(v.available),
        "maxWithdrawAmount": money(v.max_withdraw), "assets": [asset], "positions": positions,
    }


def position_risk_json(acct: EAccount, symbol: str, side: str, r: PositionRisk | None, pos_amount: Decimal,
                       entry: Decimal, iso_wallet: Decimal, mark: Decimal, liq: Decimal, spec: SymbolSpec,
                       f: Formats, default_leverage: int, update_time: int) -> dict[str, Any]:
    lev = acct.leverage.get(symbol, default_leverage)
    isolated = acct.margin_type.get(symbol) is MarginType.ISOLATED
    return {
        "symbol": symbol, "positionAmt": f.qty(symbol, pos_amount), "entryPrice": plain_price(entry),
        "breakEvenPrice": plain_price(entry), "markPrice": plain_price(mark),
        "unRealizedProfit": money(r.unrealized if r else D0), "liquidationPrice": plain_price(liq),
        "leverage": str(lev), "maxNotionalValue": fixed(spec.max_notional(lev), 0),
        "marginType": "isolated" if isolated else "cross",
        "isolatedMargin": money(iso_wallet + (r.unrealized if r and isolated else D0)),
        "isAutoAddMargin": "false", "positionSide": side, "notional": money(r.notional if r else D0),
        "isolatedWallet": money(iso_wallet), "initialMargin": money(r.initial if r else D0),
        "maintMargin": money(r.maint if r else D0), "updateTime": update_time,
    }


def trade_json(t: Fill, f: Formats) -> dict[str, Any]:
    s = t.symbol
    buyer = t.side.value == "BUY"
    return {"buyer": buyer, "commission": money(t.commission), "commissionAsset": t.commission_asset, "id": t.trade_id,
            "maker": t.maker, "orderId": t.order_id, "price": f.price(s, t.price), "qty": f.qty(s, t.qty),
            "quoteQty": money(t.quote_qty), "realizedPnl": money(t.realized_pnl), "side": t.side.value,
            "positionSide": t.position_side.value, "symbol": s, "time": t.time, "marginAsset": "USDT"}


def income_json(i: Income) -> dict[str, Any]:
    return {"symbol": i.symbol, "incomeType": i.income_type, "income": money(i.income), "asset": i.asset,
            "info": i.info, "time": i.time, "tranId": str(i.tran_id), "tradeId": i.trade_id}


# ------------------------------------------------------------------------ Algo Service (binance-usdm)
def algo_json(o: EOrder, f: Formats, query: bool = False, listing: bool = False) -> dict[str, Any]:
    """An Algo Service order (binance-algo-orders.md 4.1; `query` adds the actual* fields of 4.2, `listing`
    the tp/sl fields of 4.3)."""
    s = o.symbol
    trailing = o.orig_type is OrderType.TRAILING_STOP_MARKET
    out: dict[str, Any] = {
        "algoId": o.order_id, "clientAlgoId": o.client_order_id, "algoType": "CONDITIONAL",
        "orderType": o.orig_type, "symbol": s, "side": o.side, "positionSide": o.position_side,
        "timeInForce": o.time_in_force, "quantity": f.qty(s, o.orig_qty), "algoStatus": o.algo_status,
        "triggerPrice": f.price(s, o.stop_price), "price": f.price(s, o.price), "icebergQuantity": None,
        "selfTradePreventionMode": "NONE", "workingType": o.working_type, "priceMatch": "NONE",
        "closePosition": o.close_position, "priceProtect": o.price_protect, "reduceOnly": o.reduce_only,
        "activatePrice": f.price(s, o.activate_price) if trailing else "",
        "callbackRate": plain(o.price_rate or D0) if trailing else "",
        "createTime": o.time, "updateTime": o.update_time, "triggerTime": o.trigger_time, "goodTillDate": 0,
    }
    if query or listing:
        out["actualOrderId"] = str(o.actual_order_id) if o.actual_order_id else ""
        out["actualPrice"] = f.price(s, o.avg_price)
        if o.actual_order_id:
            out["actualType"] = o.type
        if o.executed_qty:
            out["actualQty"] = f.qty(s, o.executed_qty)
        out["tpOrderType"] = ""
    if listing:
        out.update(tpTriggerPrice="0.000", tpPrice="0.000", slTriggerPrice="0.000", slPrice="0.000")
    return out


def algo_update_json(o: EOrder, time: int, f: Formats) -> dict[str, Any]:
    """The user stream's ALGO_UPDATE (binance-algo-orders.md 6.1)."""
    s = o.symbol
    data: dict[str, Any] = {
        "caid": o.client_order_id, "aid": o.order_id, "at": "CONDITIONAL", "o": o.orig_type.value, "s": s,
        "S": o.side.value, "ps": o.position_side.value, "f": o.time_in_force.value, "q": f.qty(s, o.orig_qty),
        "X": o.algo_status, "ai": str(o.actual_order_id) if o.actual_order_id else "",
        "tp": f.price(s, o.stop_price), "p": f.price(s, o.price), "V": "NONE", "wt": o.working_type.value,
        "pm": "NONE", "cp": o.close_position, "pP": o.price_protect, "R": o.reduce_only, "tt": o.trigger_time,
        "gtd": 0, "rm": o.reject_reason,
    }
    if o.actual_order_id:
        data.update(ap=f.price(s, o.avg_price), aq=f.qty(s, o.executed_qty), act=o.type.value)
    if o.orig_type is OrderType.TRAILING_STOP_MARKET:
        data["ia"] = o.activated
    return {"e": "ALGO_UPDATE", "T": time, "E": time, "o": data}
