"""The aster-v3 profile's `/fapi/v3/...` routes (aster-v3.md 1.3, 7).

Every V1/V2 route is served under `/fapi/v3/` too, with the same handler and weight: market data needs no
authentication, everything else (the listenKey calls included) an API-wallet signature (auth_v3.py). The
V3-only `accountWithJoinMargin` (formerly `account`), `noop` and the guarded cancels (`guardedCancelOrder`,
`guardedBatchOrders`: the nonce must be the one that placed the order) are added, and an empty spot
`/api/v3/exchangeInfo` (ccxt's aster class loads it before the futures markets). Order modification, strategy
orders, MMP and sub-accounts are not served (404).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from paper.engine.errors import VenueError, unknown_order
from paper.server import KEY, NONE, SIGNED, PaperApp, Req
from paper.wire import order_json

if TYPE_CHECKING:
    from paper.venue import Venue


def register(app: PaperApp, v: "Venue") -> None:
    for (method, path), route in list(app.routes.items()):
        if not path.startswith(("/fapi/v1/", "/fapi/v2/")):
            continue
        target = "/fapi/v3/" + path.split("/", 3)[3]
        if (method, target) in app.routes:
            continue            # e.g. /fapi/v2/positionRisk: /fapi/v3/positionRisk has its own (open positions)
        security = route.security
        if security == KEY:     # listenKey is USER_STREAM (signed in V3); historicalTrades is market data
            security = SIGNED if "listenKey" in path else NONE
        app.add(method, target, route.handler, security, route.weight, route.order, v3=security != NONE)
    for (method, path), route in list(app.routes.items()):
        if path.startswith("/fapi/v3/") and route.security != NONE:
            route.v3 = True     # the V1 profile's /fapi/v3/balance etc. take HMAC; here API-wallet signatures only
    account = app.routes[("GET", "/fapi/v3/account")]
    app.add("GET", "/fapi/v3/accountWithJoinMargin", account.handler, SIGNED, account.weight, v3=True)

    def noop(req: Req) -> dict:
        """Consumes its nonce (checked by the authentication); nothing is queued here, so nothing to drop."""
        return {"code": 200, "msg": "success"}

    app.add("POST", "/fapi/v3/noop", noop, SIGNED, v3=True)

    f = v.formats

    def guarded_one(req: Req, symbol: str, oid: int | None, cid: str | None) -> dict:
        """Cancel one order if this request's nonce is the one that placed it (aster-v3.md 1.4)."""
        order = v.engine.find_open(req.key, symbol, oid, cid)
        if order is None:
            raise unknown_order()
        if order.nonce != req.nonce:        # undocumented code: the venue's nonce refusal
            raise VenueError(-4225, "Nonce Expired")
        return order_json(v.engine.cancel(req.key, symbol, order.order_id, None, v.now()), f)

    def guarded_cancel(req: Req) -> dict:
        p = req.params
        symbol = p.symbol()
        v.spec(symbol)
        oid, cid = p.int("orderId"), p.str("origClientOrderId")
        if oid is None and cid is None:
            raise VenueError(-1102, "Either orderId or origClientOrderId must be sent.")
        try:
            return guarded_one(req, symbol, oid, cid)
        finally:
            v.commit()

    def guarded_batch(req: Req) -> list:
        p = req.params
        symbol = p.symbol()
        v.spec(symbol)
        ids, cids = p.json_list("orderIdList"), p.json_list("origClientOrderIdList")
        targets = [(int(i), None) for i in ids] if ids else [(None, str(c)) for c in (cids or [])]
        if not 1 <= len(targets) <= 10:
            raise VenueError(-1130, "Data sent for parameter 'orderIdList' is not valid.")
        out = []
        try:
            for oid, cid in targets:
                try:
                    out.append(guarded_one(req, symbol, oid, cid))
                except VenueError as exc:
                    out.append(exc.body())
        finally:
            v.commit()
        return out

    app.add("DELETE", "/fapi/v3/guardedCancelOrder", guarded_cancel, SIGNED, v3=True, guarded=True)
    app.add("DELETE", "/fapi/v3/guardedBatchOrders", guarded_batch, SIGNED, v3=True, guarded=True)

    def spot_info(req: Req) -> dict:
        """Aster's spot exchangeInfo, which ccxt's aster class loads with the futures one: no spot markets here."""
        return {"timezone": "UTC", "serverTime": v.api_now(), "rateLimits": [], "exchangeFilters": [],
                "assets": [], "symbols": []}

    app.add("GET", "/api/v3/exchangeInfo", spot_info)
