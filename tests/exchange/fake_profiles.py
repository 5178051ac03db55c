"""TEST DOUBLES of the two newer venue profiles, built on `FakeVenue` (real HTTP/WebSocket on 127.0.0.1).

* `FakeV3Venue`: Aster V3. Every path under /fapi/v3/, answered by the V1 handlers of FakeVenue.
  Signed calls (everything but time, exchangeInfo and market data) are verified like the venue does
  (aster-v3.md §5): signature over the raw received string (mraster.exchange.v3sign), the recovered
  signer must be a registered agent of the `user` sent, nonce within ±window of the venue clock and
  not among the agent's last 100 (else -4225). No API-key header is needed or looked at.
* `FakeBinanceVenue`: Binance USD-M with the Algo Service: conditional types on /fapi/v1/order are
  refused with -4120; /fapi/v1/algoOrder (place/query/cancel), openAlgoOrders, algoOpenOrders;
  `trigger()` turns an algo order into a regular child order and pushes ALGO_UPDATE events.

These are not the paper exchange (paper/), which serves every profile in full.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mraster.exchange import v3sign

from tests.exchange.fake_venue import FakeVenue, Seen, VenueError

V3_UNSIGNED = {"/fapi/v3/time", "/fapi/v3/exchangeInfo", "/fapi/v3/klines", "/fapi/v3/ticker/bookTicker",
               "/fapi/v3/premiumIndex", "/fapi/v3/ticker/24hr", "/fapi/v3/depth", "/fapi/v3/aggTrades"}
CONDITIONAL = {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}


class FakeV3Venue(FakeVenue):
    def __init__(self, *, agents: dict[str, str] | None = None, chain_id: int = 1666, window_ms: int = 60_000,
                 **kw: Any):
        super().__init__(**kw)
        self.agents = {k.lower(): v.lower() for k, v in (agents or {}).items()}   # signer -> user
        self.chain_id, self.window_ms = chain_id, window_ms
        self.nonces: dict[str, list[int]] = {}
        self.verified: list[v3sign.Verified] = []

    def nonce_problem(self, signer: str, nonce: int) -> tuple[int, str] | None:
        now_us = self.now_ms() * 1000
        if abs(nonce - now_us) > self.window_ms * 1000:
            return -4225, "Nonce Expired"
        kept = self.nonces.setdefault(signer.lower(), [])
        if nonce in kept or (len(kept) >= 100 and nonce < min(kept)):
            return -4225, "Nonce Expired"
        kept.append(nonce)
        if len(kept) > 100:
            kept.remove(min(kept))
        return None

    async def _handle(self, request: Request) -> Response:
        method, path = request.method, "/" + request.path_params["path"]
        raw_query = request.scope.get("query_string", b"").decode()
        body = (await request.body()).decode()
        params = dict(parse_qsl(body)) | dict(parse_qsl(raw_query))
        self.seen.append(Seen(method, path, params, raw_query))
        fault = self._take_fault(method, path)
        if fault is not None and fault.action in ("status", "hang", "garbage"):
            return await self._fault_response(fault)
        if not path.startswith("/fapi/v3/"):
            return JSONResponse({"code": -5000, "msg": f"Path {path}, Method {method} is invalid"}, 404)
        if path not in V3_UNSIGNED:
            try:
                verified = v3sign.verify_payload(raw_query if "signature=" in raw_query else body, self.chain_id)
            except v3sign.SignatureError as exc:
                return JSONResponse({"code": exc.code, "msg": str(exc)}, 400)
            owner = self.agents.get(verified.signer.lower())
            if owner is None or (verified.user and verified.user.lower() != owner):
                return JSONResponse({"code": -1002, "msg": "You are not authorized to execute this request."}, 401)
            problem = self.nonce_problem(verified.signer, verified.nonce)
            if problem is not None:
                return JSONResponse({"code": problem[0], "msg": problem[1]}, 400)
            self.verified.append(verified)
        try:
            result = self._route_v3(method, path, params)
        except VenueError as exc:
            result = JSONResponse({"code": exc.code, "msg": exc.msg}, status_code=exc.status)
        if fault is not None:
            return await self._fault_response(fault)
        return result if isinstance(result, Response) else JSONResponse(result)

    def _route_v3(self, method: str, path: str, p: dict[str, str]) -> Any:
        rest = path[len("/fapi/v3/"):]
        if rest in ("accountWithJoinMargin", "account"):
            return self._account()
        for version in ("v1", "v2"):
            handler = getattr(self, f"_{method.lower()}_fapi_{version}_{rest.replace('/', '_')}", None)
            if handler is not None:
                return handler(p)
        return JSONResponse({"code": -5000, "msg": f"Path {path}, Method {method} is invalid"}, 404)


class FakeBinanceVenue(FakeVenue):
    def __init__(self, **kw: Any):
        super().__init__(**kw)
        # Binance dropped the MAX_NUM_ALGO_ORDERS filter when conditional orders moved to the Algo Service
        info = dict(self.exchange_info)
        info["symbols"] = [dict(sym, filters=[f for f in sym.get("filters", [])
                                              if f.get("filterType") != "MAX_NUM_ALGO_ORDERS"])
                           for sym in info.get("symbols", [])]
        self.exchange_info = info
        self.algos: dict[int, dict[str, Any]] = {}
        self.next_algo_id = 3_000_000_000_000_000

    def _route(self, method: str, path: str, p: dict[str, str]) -> Any:
        if (method, path) == ("POST", "/fapi/v1/order") and p.get("type") in CONDITIONAL:
            raise VenueError(-4120, "Order type not supported for this endpoint. Please use the Algo Order API "
                             "endpoints instead.")
        return super()._route(method, path, p)

    # ----------------------------------------------------------- algo orders
    def open_algos(self) -> list[dict[str, Any]]:
        return [a for a in self.algos.values() if a["algoStatus"] in ("NEW", "TRIGGERING", "TRIGGERED")]

    def _find_algo(self, p: dict[str, str]) -> dict[str, Any] | None:
        if "algoId" in p:
            return self.algos.get(int(p["algoId"]))
        matches = [a for a in self.algos.values() if a["clientAlgoId"] == p.get("clientAlgoId")]
        return matches[-1] if matches else None

    def _post_fapi_v1_algoOrder(self, p: dict[str, str]) -> Any:
        if p.get("algoType") != "CONDITIONAL":
            raise VenueError(-1102, "Mandatory parameter 'algoType' was not sent, was empty/null, or malformed.")
        if "stopPrice" in p or "newClientOrderId" in p or "activationPrice" in p:
            raise VenueError(-1104, "Not all sent parameters were read.")
        if p["type"] != "TRAILING_STOP_MARKET" and not p.get("triggerPrice"):
            raise VenueError(-1102, "Mandatory parameter 'triggerPrice' was not sent, was empty/null, or malformed.")
        cid = p.get("clientAlgoId") or f"algo-auto-{self.next_algo_id}"
        if any(a["clientAlgoId"] == cid for a in self.open_algos()):
            raise VenueError(-4116, "ClientOrderId is duplicated.")
        self.next_algo_id += 1
        now = self.now_ms()
        algo = {"algoId": self.next_algo_id, "clientAlgoId": cid, "algoType": "CONDITIONAL",
                "orderType": p["type"], "symbol": p["symbol"], "side": p["side"],
                "positionSide": p.get("positionSide", "BOTH"), "timeInForce": p.get("timeInForce", "GTC"),
                "quantity": p.get("quantity", "0"), "algoStatus": "NEW", "triggerPrice": p.get("triggerPrice", "0"),
                "price": p.get("price", "0"), "icebergQuantity": None, "selfTradePreventionMode": "NONE",
                "workingType": p.get("workingType", "CONTRACT_PRICE"), "priceMatch": "NONE",
                "closePosition": p.get("closePosition") == "true", "priceProtect": p.get("priceProtect") == "TRUE",
                "reduceOnly": p.get("reduceOnly") == "true", "activatePrice": p.get("activatePrice", ""),
                "callbackRate": p.get("callbackRate", ""), "createTime": now, "updateTime": now, "triggerTime": 0,
                "goodTillDate": 0, "actualOrderId": "", "actualPrice": "0"}
        self.algos[algo["algoId"]] = algo
        return algo

    def _get_fapi_v1_algoOrder(self, p: dict[str, str]) -> Any:
        algo = self._find_algo(p)
        if algo is None:
            raise VenueError(-2013, "Order does not exist.")
        return algo

    def _delete_fapi_v1_algoOrder(self, p: dict[str, str]) -> Any:
        algo = self._find_algo(p)
        if algo is None or algo["algoStatus"] not in ("NEW", "TRIGGERING"):
            raise VenueError(-2011, "Unknown order sent.")
        algo["algoStatus"], algo["updateTime"] = "CANCELED", self.now_ms()
        return {"algoId": algo["algoId"], "clientAlgoId": algo["clientAlgoId"], "code": "200", "msg": "success"}

    def _get_fapi_v1_openAlgoOrders(self, p: dict[str, str]) -> Any:
        return [a for a in self.open_algos() if "symbol" not in p or a["symbol"] == p["symbol"]]

    def _delete_fapi_v1_algoOpenOrders(self, p: dict[str, str]) -> Any:
        for a in self.open_algos():
            if a["symbol"] == p["symbol"] and a["algoStatus"] in ("NEW", "TRIGGERING"):
                a["algoStatus"] = "CANCELED"
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def trigger(self, algo_id: int, *, fill: bool = True, child_type: str = "MARKET") -> dict[str, Any]:
        """The trigger fires: a regular child order under the algo's client id; FINISHED once it filled."""
        algo = self.algos[algo_id]
        child = self.add_order(symbol=algo["symbol"], side=algo["side"], type=child_type,
                               origType=algo["orderType"], clientOrderId=algo["clientAlgoId"],
                               origQty=algo["quantity"], stopPrice=algo["triggerPrice"],
                               status="FILLED" if fill else "NEW", executedQty=algo["quantity"] if fill else "0",
                               avgPrice="57994.1" if fill else "0", reduceOnly=algo["reduceOnly"])
        algo.update(algoStatus="FINISHED" if fill else "TRIGGERED", actualOrderId=str(child["orderId"]),
                    triggerTime=self.now_ms(), actualType=child_type)
        if fill:
            algo.update(actualQty=algo["quantity"], actualPrice="57994.1")
        return child

    def algo_event(self, algo: dict[str, Any], status: str | None = None) -> str:
        """An ALGO_UPDATE as Binance pushes it (binance-algo-orders.md §6.1)."""
        return json.dumps({"e": "ALGO_UPDATE", "T": self.now_ms(), "E": self.now_ms(), "o": {
            "caid": algo["clientAlgoId"], "aid": algo["algoId"], "at": "CONDITIONAL", "o": algo["orderType"],
            "s": algo["symbol"], "S": algo["side"], "ps": algo["positionSide"], "f": algo["timeInForce"],
            "q": algo["quantity"], "X": status or algo["algoStatus"], "ai": algo["actualOrderId"],
            "ap": algo.get("actualPrice", "0"), "aq": algo.get("actualQty", "0"), "act": algo.get("actualType", ""),
            "tp": algo["triggerPrice"], "p": algo["price"], "V": "NONE", "wt": algo["workingType"], "pm": "NONE",
            "cp": algo["closePosition"], "pP": algo["priceProtect"], "R": algo["reduceOnly"],
            "tt": algo["triggerTime"], "gtd": 0, "rm": ""}})
