"""Account and position routes (reference section 8)."""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mraster.domain.types import MarginType, PositionSide
from paper.engine.errors import VenueError, invalid
from paper.engine.margin import liquidation_prices
from paper.server import SIGNED, PaperApp, Req
from paper.wire import (
    account_json, balance_json, income_json, order_json, position_risk_json, trade_json,
)

if TYPE_CHECKING:
    from paper.market_data import MarketData
    from paper.venue import Venue

SUCCESS = {"code": 200, "msg": "success"}
SEVEN_DAYS = 7 * 86_400_000
D0 = Decimal(0)


def register(app: PaperApp, v: "Venue", d: "MarketData") -> None:
    f = v.formats
    eng = v.engine

    def commit_after(fn):
        def wrapped(req: Req) -> Any:
            try:
                return fn(req)
            finally:
                v.commit()
        return wrapped

    def switch(param: str, setter):
        """POST of an account-wide on/off setting (position mode, multi-assets mode)."""
        @commit_after
        def handler(req: Req) -> dict:
            value = req.params.bool(param)
            if value is None:
                raise VenueError(-1102, f"Mandatory parameter '{param}' was not sent, was empty/null, or malformed.")
            setter(req.key, value, v.now())
            return SUCCESS
        return handler

    set_dual = switch("dualSidePosition", eng.set_position_mode)
    set_multi = switch("multiAssetsMargin", eng.set_multi_assets)

    @commit_after
    def leverage(req: Req) -> dict:
        symbol = req.params.symbol()
        lev = req.params.int("leverage", True)
        lev, cap = eng.set_leverage(req.key, symbol, lev, v.now())
        return {"leverage": lev, "maxNotionalValue": f"{cap:f}", "symbol": symbol}

    @commit_after
    def margin_type(req: Req) -> dict:
        symbol = req.params.symbol()
        mt = req.params.enum("marginType", MarginType, True)
        eng.set_margin_type(req.key, symbol, mt, v.now())
        return SUCCESS

    @commit_after
    def position_margin(req: Req) -> dict:
        p = req.params
        kind = p.int("type", True)
        if kind not in (1, 2):
            raise invalid("type")
        amount = p.decimal("amount", True)
        ps = p.enum("positionSide", PositionSide) or PositionSide.BOTH
        eng.adjust_isolated_margin(req.key, p.symbol(), ps, amount, kind == 1, v.now())
        return {"amount": float(amount), "code": 200, "msg": "Successfully modify position margin.", "type": kind}

    def account(req: Req) -> dict:
        acct = eng.account(req.key, v.now())
        v.commit()
        return account_json(acct, eng.view(req.key), v.specs, f, eng.default_leverage)

    def balance(req: Req) -> list:
        acct = eng.account(req.key, v.now())
        v.commit()
        return balance_json(acct, eng.view(req.key))

    def position_rows(req: Req, only_open: bool) -> list[dict]:
        symbol = req.params.symbol(required=False)
        if symbol:
            v.spec(symbol)
        acct = eng.account(req.key, v.now())
        v.commit()
        view = eng.view(req.key)
        liq = liquidation_prices(view, acct, v.specs)
        risks = {(r.pos.symbol, r.pos.position_side): r for r in view.positions}
        sides = (PositionSide.LONG, PositionSide.SHORT) if acct.dual_side else (PositionSide.BOTH,)
        out = []
        for s, spec in v.specs.items():
            if symbol and s != symbol:
                continue
            mark = spec.price(eng.markets[s].mark_t)
            for side in sides:
                pos = acct.positions.get((s, side))
                if only_open and (pos is None or pos.amount == 0):
                    continue
                r = risks.get((s, side))
                out.append(position_risk_json(
                    acct, s, side.value, r, pos.amount if pos else D0, pos.entry_price if pos else D0,
                    pos.isolated_wallet if pos else D0, mark, liq.get(id(pos), D0) if pos else D0, spec, f,
                    eng.default_leverage, pos.update_time if pos else 0))
        return out

    def user_trades(req: Req) -> list:
        p = req.params
        symbol = p.symbol()
        v.spec(symbol)
        from_id, start, end = p.int("fromId"), p.int("startTime"), p.int("endTime")
        limit = p.int("limit", default=500)
        if not 1 <= limit <= 1000:
            raise VenueError(-1130, "Data sent for parameter 'limit' is not valid.")
        if from_id is not None and (start is not None or end is not None):
            raise VenueError(-1128, "Combination of optional parameters invalid.")
        if start is not None and end is not None and end - start > SEVEN_DAYS:
            raise VenueError(-4165, "Maximum time interval is 7 days")
        if from_id is None and start is None and end is None:
            start = v.now() - SEVEN_DAYS
        v.commit()
        return [trade_json(t, f) for t in v.store.trades(req.key, symbol, from_id=from_id, start=start, end=end,
                                                         limit=limit)]

    def income(req: Req) -> list:
        p = req.params
        symbol = p.symbol(required=False)
        limit = p.int("limit", default=100)
        if not 1 <= limit <= 1000:
            raise VenueError(-1130, "Data sent for parameter 'limit' is not valid.")
        start, end = p.int("startTime"), p.int("endTime")
        if start is None and end is None:
            start = v.now() - SEVEN_DAYS
        v.commit()
        return [income_json(i) for i in v.store.incomes(req.key, symbol=symbol, income_type=p.str("incomeType"),
                                                        start=start, end=end, limit=limit)]

    def commission(req: Req) -> dict:
        symbol = req.params.symbol()
        v.spec(symbol)
        maker, taker = eng.fee_rates(req.key)
        return {"symbol": symbol, "makerCommissionRate": f"{maker:f}", "takerCommissionRate": f"{taker:f}"}

    def adl(req: Req) -> list:
        acct = eng.account(req.key, v.now())
        v.commit()
        symbols = sorted({p.symbol for p in acct.positions.values() if p.amount != 0})
        if acct.dual_side:
            return [{"symbol": s, "adlQuantile": {"LONG": 1, "SHORT": 1, "HEDGE": 0}} for s in symbols]
        return [{"symbol": s, "adlQuantile": {"LONG": 1, "SHORT": 1, "BOTH": 1}} for s in symbols]

    def force_orders(req: Req) -> list:
        symbol = req.params.symbol(required=False)
        limit = req.params.int("limit", default=50)
        v.commit()
        return [order_json(o, f) for o in v.store.liquidation_orders(req.key, symbol, limit)]

    def remaining_notional(req: Req) -> dict:
        symbol = req.params.symbol()
        spec = v.spec(symbol)
        acct = eng.account(req.key, v.now())
        lev = req.params.int("leverage") or acct.leverage.get(symbol, eng.default_leverage)
        mark = spec.price(eng.markets[symbol].mark_t)
        used = sum((abs(p.amount) * mark for p in acct.positions.values() if p.symbol == symbol), D0)
        return {"remainingOpenableNotionalValue": float(max(D0, spec.max_notional(lev) - used))}

    def symbol_config(req: Req) -> list:
        symbol = req.params.symbol(required=False)
        acct = eng.account(req.key, v.now())
        v.commit()
        out = []
        for s, spec in v.specs.items():
            if symbol and s != symbol:
                continue
            lev = acct.leverage.get(s, eng.default_leverage)
            out.append({"symbol": s, "marginType": acct.margin_type.get(s, MarginType.CROSSED).value,
                        "isAutoAddMargin": False, "leverage": lev, "maxNotionalValue": f"{spec.max_notional(lev):f}"})
        return out

    def account_config(req: Req) -> dict:
        acct = eng.account(req.key, v.now())
        v.commit()
        return {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True, "dualSidePosition":
                acct.dual_side, "updateTime": acct.update_time, "multiAssetsMargin": acct.multi_assets,
                "tradeGroupId": -1}

    add = app.add
    add("GET", "/fapi/v1/symbolConfig", symbol_config, SIGNED, weight=5)
    add("GET", "/fapi/v1/accountConfig", account_config, SIGNED, weight=5)
    add("POST", "/fapi/v1/positionSide/dual", set_dual, SIGNED)
    add("GET", "/fapi/v1/positionSide/dual",
        lambda req: {"dualSidePosition": eng.account(req.key, v.now()).dual_side}, SIGNED, weight=30)
    add("POST", "/fapi/v1/multiAssetsMargin", set_multi, SIGNED)
    add("GET", "/fapi/v1/multiAssetsMargin",
        lambda req: {"multiAssetsMargin": eng.account(req.key, v.now()).multi_assets}, SIGNED, weight=30)
    add("POST", "/fapi/v1/leverage", leverage, SIGNED)
    add("POST", "/fapi/v1/marginType", margin_type, SIGNED)
    add("POST", "/fapi/v1/positionMargin", position_margin, SIGNED)
    add("GET", "/fapi/v1/positionMargin/history", lambda req: [], SIGNED)
    for path in ("/fapi/v2/account", "/fapi/v3/account", "/fapi/v4/account"):
        add("GET", path, account, SIGNED, weight=5)
    for path in ("/fapi/v2/balance", "/fapi/v3/balance"):
        add("GET", path, balance, SIGNED, weight=5)
    add("GET", "/fapi/v2/positionRisk", lambda req: position_rows(req, only_open=False), SIGNED, weight=5)
    add("GET", "/fapi/v3/positionRisk", lambda req: position_rows(req, only_open=True), SIGNED, weight=5)
    add("GET", "/fapi/v1/userTrades", user_trades, SIGNED, weight=5)
    add("GET", "/fapi/v1/income", income, SIGNED, weight=30)
    add("GET", "/fapi/v1/commissionRate", commission, SIGNED, weight=20)
    add("GET", "/fapi/v1/leverageBracket", lambda req: d.leverage_brackets(req.params.symbol(required=False)), SIGNED)
    add("GET", "/fapi/v1/adlQuantile", adl, SIGNED, weight=5)
    add("GET", "/fapi/v1/forceOrders", force_orders, SIGNED, weight=20)
    add("GET", "/fapi/v1/remainingOpenableNotionalValue", remaining_notional, SIGNED, weight=20)
