"""Order routes (reference section 7) and the listenKey lifecycle (9.1)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mraster.domain.types import ExecutionType, OrderStatus
from paper.engine.errors import VenueError, mandatory, no_such_order
from paper.engine.model import EOrder, OrderEvent
from paper.params import batch_params, new_order
from paper.server import KEY, SIGNED, PaperApp, Req
from paper.wire import order_json

if TYPE_CHECKING:
    from paper.streams import StreamHub
    from paper.venue import Venue

SEVEN_DAYS = 7 * 86_400_000
SWITCH_TO_ALGO = "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead."


def register(app: PaperApp, v: "Venue", hub: "StreamHub") -> None:
    f = v.formats
    algo_service = v.profile.algo_service

    def place_one(key: str, p, nonce: int = 0) -> dict[str, Any]:
        req = new_order(p)
        if algo_service and req.type.is_conditional:      # Binance since 2025-12-09: the Algo Service only
            raise VenueError(-4120, SWITCH_TO_ALGO)
        now = v.now()
        events_before = len(v.engine.events)
        order = v.engine.place(key, req, now)
        order.nonce = nonce                      # aster-v3: a guarded cancel must repeat it (saved at commit)
        ack = next((e.order for e in v.engine.events[events_before:]
                    if isinstance(e, OrderEvent) and e.order.order_id == order.order_id
                    and e.execution_type is ExecutionType.NEW), order)
        return order_json(order if req.response_type == "RESULT" else ack, f)

    def post_order(req: Req) -> dict[str, Any]:
        try:
            return place_one(req.key, req.params, req.nonce)
        finally:
            v.commit()

    def test_order(req: Req) -> dict[str, Any]:
        order_req = new_order(req.params)
        if algo_service and order_req.type.is_conditional:
            raise VenueError(-4120, SWITCH_TO_ALGO)
        acct = v.engine.accounts.get(req.key) or v.engine.account(req.key, v.now())
        order = v.engine.check_new_order(acct, order_req, v.now())
        v.commit()
        return order_json(order, f)

    def batch_orders(req: Req) -> list[dict[str, Any]]:
        items = req.params.json_list("batchOrders")
        if items is None:
            raise mandatory("batchOrders")
        if not 1 <= len(items) <= 5:
            raise VenueError(-4082, "Invalid number of batch place orders.")
        out = []
        try:
            for item in items:
                try:
                    if not isinstance(item, dict):
                        raise VenueError(-1130, "Data sent for parameter 'batchOrders' is not valid.")
                    out.append(place_one(req.key, batch_params(item), req.nonce))
                except VenueError as exc:
                    out.append(exc.body())
        finally:
            v.commit()
        return out

    def find(req: Req, open_only: bool = False) -> EOrder:
        p = req.params
        symbol = p.symbol()
        v.spec(symbol)
        oid, cid = p.int("orderId"), p.str("origClientOrderId")
        if oid is None and cid is None:
            raise VenueError(-1102, "Either orderId or origClientOrderId must be sent.")
        order = v.engine.find_open(req.key, symbol, oid, cid) if open_only else \
            v.engine.find_order(req.key, symbol, oid, cid) or v.store.find_order(req.key, symbol, oid, cid)
        if order is None:
            raise no_such_order()
        if order.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED) and not order.executed_qty \
                and v.now() - order.update_time > SEVEN_DAYS:
            raise no_such_order()
        return order

    def cancel(req: Req) -> dict[str, Any]:
        p = req.params
        symbol = p.symbol()
        oid, cid = p.int("orderId"), p.str("origClientOrderId")
        if oid is None and cid is None:
            raise VenueError(-1102, "Either orderId or origClientOrderId must be sent.")
        try:
            return order_json(v.engine.cancel(req.key, symbol, oid, cid, v.now()), f)
        finally:
            v.commit()

    def cancel_batch(req: Req) -> list[dict[str, Any]]:
        p = req.params
        symbol = p.symbol()
        v.spec(symbol)
        ids = p.json_list("orderIdList")
        cids = p.json_list("origClientOrderIdList")
        targets = [(int(i), None) for i in ids] if ids else [(None, str(c)) for c in (cids or [])]
        if not 1 <= len(targets) <= 10:
            raise VenueError(-1130, "Data sent for parameter 'orderIdList' is not valid.")
        out = []
        try:
            for oid, cid in targets:
                try:
                    out.append(order_json(v.engine.cancel(req.key, symbol, oid, cid, v.now()), f))
                except VenueError as exc:
                    out.append(exc.body())
        finally:
            v.commit()
        return out

    def cancel_all(req: Req) -> dict[str, Any]:
        try:
            v.engine.cancel_all(req.key, req.params.symbol(), v.now())
        finally:
            v.commit()
        return {"code": "200", "msg": "The operation of cancel all open order is done."}

    def countdown(req: Req) -> dict[str, Any]:
        symbol = req.params.symbol()
        v.spec(symbol)
        ms = req.params.int("countdownTime", True)
        if ms < 0:
            raise VenueError(-1130, "Data sent for parameter 'countdownTime' is not valid.")
        v.set_countdown(req.key, symbol, ms)
        return {"symbol": symbol, "countdownTime": str(ms)}

    def open_orders(req: Req) -> list[dict[str, Any]]:
        symbol = req.params.symbol(required=False)
        if symbol:
            v.spec(symbol)
        acct = v.engine.accounts.get(req.key)
        orders = [] if acct is None else [o for o in acct.open_orders.values()
                                          if symbol in (None, o.symbol) and not o.algo_service]
        return [order_json(o, f) for o in sorted(orders, key=lambda o: o.order_id)]

    def all_orders(req: Req) -> list[dict[str, Any]]:
        p = req.params
        symbol = p.symbol()
        v.spec(symbol)
        limit = p.int("limit", default=500)
        if not 1 <= limit <= 1000:
            raise VenueError(-1130, "Data sent for parameter 'limit' is not valid.")
        start, end = p.int("startTime"), p.int("endTime")
        if start is not None and end is not None and end - start > SEVEN_DAYS:
            raise VenueError(-4165, "Maximum time interval is 7 days")
        v.commit()
        return [order_json(o, f) for o in v.store.orders(req.key, symbol, from_id=p.int("orderId"),
                                                         start=start, end=end, limit=limit)]

    def listen_key(req: Req) -> dict[str, Any]:
        v.engine.account(req.key, v.now())
        v.commit()
        return {"listenKey": hub.keys.create(req.key, time.time())}

    def keepalive(req: Req) -> dict[str, Any]:
        hub.keys.keepalive(req.key, req.params.str("listenKey"), time.time())
        return {}

    def close_key(req: Req) -> dict[str, Any]:
        hub.keys.delete(req.key, req.params.str("listenKey"))
        return {}

    add = app.add
    add("POST", "/fapi/v1/order", post_order, SIGNED, order=True)
    add("POST", "/fapi/v1/order/test", test_order, SIGNED)
    add("POST", "/fapi/v1/batchOrders", batch_orders, SIGNED, weight=5, order=True)
    add("GET", "/fapi/v1/order", lambda req: order_json(find(req), f), SIGNED)
    add("DELETE", "/fapi/v1/order", cancel, SIGNED)
    add("DELETE", "/fapi/v1/batchOrders", cancel_batch, SIGNED)
    add("DELETE", "/fapi/v1/allOpenOrders", cancel_all, SIGNED)
    add("POST", "/fapi/v1/countdownCancelAll", countdown, SIGNED, weight=10)
    add("GET", "/fapi/v1/openOrder", lambda req: order_json(find(req, open_only=True), f), SIGNED)
    add("GET", "/fapi/v1/openOrders", open_orders, SIGNED, weight=lambda p: 1 if p.get("symbol") else 40)
    add("GET", "/fapi/v1/allOrders", all_orders, SIGNED, weight=5)
    add("POST", "/fapi/v1/listenKey", listen_key, KEY)
    add("PUT", "/fapi/v1/listenKey", keepalive, KEY)
    add("DELETE", "/fapi/v1/listenKey", close_key, KEY)
