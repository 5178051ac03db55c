"""Admin endpoints under `/admin/` (not part of the venue API; 404 unless ASTER_PAPER_ADMIN / --admin).

They drive scenarios for the tests of bot and guard: pin a price, advance the clock, cancel or
expire an order as the venue would, fill part of an order, set faults, force a liquidation. Every
change goes through the same engine and user stream as the venue's own actions. An endpoint acts on
the account given by `account`, else by the `X-MBX-APIKEY` header, else `paper-key`.
The full reference is docs/paper-exchange.md.
"""
from __future__ import annotations

import random
import time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson

from mraster.domain.types import OrderStatus, PositionSide
from mraster.exchange.v3sign import is_address
from paper.auth_v3 import Agent
from paper.venue import AlgoMixing
from paper.config import DEFAULT_KEY
from paper.engine.errors import VenueError, bad_symbol, invalid, mandatory
from paper.engine.margin import liquidation_prices
from paper.faults import FaultSpecError, parse_spec
from paper.server import NONE, PaperApp, Req
from paper.wire import algo_json, fixed, money, order_json, plain_price

if TYPE_CHECKING:
    from paper.streams import StreamHub
    from paper.venue import Venue


def _body(req: Req) -> dict[str, Any]:
    if req.method in ("GET", "DELETE") or not req.body:
        return dict(req.params)
    try:
        data = orjson.loads(req.body)
    except orjson.JSONDecodeError:
        return dict(req.params)
    if not isinstance(data, dict):
        raise VenueError(-1130, "The admin API takes a JSON object.")
    return {**dict(req.params), **data}


def _dec(body: dict, name: str, required: bool = True) -> Decimal | None:
    raw = body.get(name)
    if raw is None or raw == "":
        if required:
            raise mandatory(name)
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise invalid(name) from None
    if not value.is_finite():
        raise invalid(name)
    return value


def _bool(body: dict, name: str, default: bool) -> bool:
    raw = body.get(name)
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    return str(raw).lower() in ("1", "true", "yes", "on")


def register(app: PaperApp, v: "Venue", hub: "StreamHub") -> None:
    eng, f = v.engine, v.formats

    def account_of(req: Req, body: dict) -> str:
        key = str(body.get("account") or req.header("x-mbx-apikey") or DEFAULT_KEY)
        return key.lower() if is_address(key) else key      # V3 accounts are named by the owner's address

    def symbol_of(body: dict) -> str:
        symbol = str(body.get("symbol") or "").upper()
        if not symbol:
            raise mandatory("symbol")
        if symbol not in v.specs:
            raise bad_symbol()
        return symbol

    def ticks(symbol: str, value: Decimal | None) -> int | None:
        if value is None:
            return None
        spec = v.specs[symbol]
        return int((value / spec.tick).to_integral_value())

    def account_state(key: str) -> dict[str, Any]:
        acct = eng.account(key, v.now())
        view = eng.view(key)
        liq = liquidation_prices(view, acct, v.specs)
        return {
            "account": key, "wallet": money(acct.wallet), "available": money(view.available),
            "margin_balance": money(view.margin_balance), "maint_margin": money(view.maint),
            "dual_side": acct.dual_side, "leverage": dict(acct.leverage),
            "margin_type": {s: m.value for s, m in acct.margin_type.items()},
            "positions": [{"symbol": r.pos.symbol, "positionSide": r.pos.position_side.value,
                           "amount": f.qty(r.pos.symbol, r.pos.amount), "entryPrice": plain_price(r.pos.entry_price),
                           "unrealizedPnl": money(r.unrealized), "isolatedWallet": money(r.pos.isolated_wallet),
                           "maintMargin": money(r.maint), "liquidationPrice": plain_price(liq.get(id(r.pos), Decimal(0)))}
                          for r in view.positions],
            "open_orders": [order_json(o, f) for o in sorted(acct.open_orders.values(), key=lambda o: o.order_id)
                            if not o.algo_service],
            "open_algo_orders": [algo_json(o, f, listing=True) for o in sorted(acct.open_orders.values(),
                                                                             key=lambda o: o.order_id)
                                 if o.algo_service],
        }

    def state(req: Req) -> dict[str, Any]:
        body = _body(req)
        out = snapshot([account_of(req, body)] if body.get("account") else sorted(eng.accounts))
        v.commit()
        return out

    def snapshot(keys: list[str]) -> dict[str, Any]:
        now = v.now()
        markets = {}
        for s, m in eng.markets.items():
            fi = v.feed.funding(s, now, m.mark_t)
            markets[s] = {"last": f.ticks(s, m.last_t), "mark": f.ticks(s, m.mark_t), "bid": f.ticks(s, m.bid_t),
                          "ask": f.ticks(s, m.ask_t), "held": s in v.holds, "fundingRate": f"{fi.rate:.8f}",
                          "nextFundingTime": fi.next_time, "resting": m.watch.size()}
        return {"venue": v.info(), "markets": markets, "accounts": {k: account_state(k) for k in keys}}

    def set_balance(req: Req) -> dict[str, Any]:
        body = _body(req)
        key = account_of(req, body)
        amount = _dec(body, "balance")
        if amount < 0:
            raise invalid("balance")
        change = eng.set_balance(key, amount, v.now())
        v.commit()
        return {"account": key, "balance": money(eng.accounts[key].wallet), "change": money(change)}

    def set_fees(req: Req) -> dict[str, Any]:
        """One account's own fee rates (`maker`, `taker` fractions), or back to the venue's with `reset`."""
        body = _body(req)
        key = account_of(req, body)
        if _bool(body, "reset", False):
            eng.account_fees.pop(key, None)
        else:
            maker, taker = _dec(body, "maker"), _dec(body, "taker")
            if not (Decimal("-0.01") <= maker <= Decimal("0.01") and Decimal(0) <= taker <= Decimal("0.01")):
                raise invalid("maker/taker")
            eng.account_fees[key] = (maker, taker)
        maker, taker = eng.fee_rates(key)
        return {"account": key, "maker": f"{maker:f}", "taker": f"{taker:f}"}

    def set_price(req: Req) -> dict[str, Any]:
        body = _body(req)
        symbol = symbol_of(body)
        price = _dec(body, "price", required=False)
        mark = _dec(body, "mark", required=False)
        if price is None and mark is None:
            raise mandatory("price")
        m = eng.markets[symbol]
        last_t = ticks(symbol, price) if price is not None else m.last_t
        mark_t = ticks(symbol, mark) if mark is not None else last_t
        hold = v.hold(symbol, last_t, mark_t, ticks(symbol, _dec(body, "bid", False)),
                      ticks(symbol, _dec(body, "ask", False)), keep=_bool(body, "hold", True))
        return {"symbol": symbol, "last": f.ticks(symbol, hold.last_t), "mark": f.ticks(symbol, hold.mark_t),
                "bid": f.ticks(symbol, hold.bid_t), "ask": f.ticks(symbol, hold.ask_t), "held": symbol in v.holds}

    def release_price(req: Req) -> dict[str, Any]:
        body = _body(req)
        symbol = symbol_of(body)
        return {"symbol": symbol, "released": v.release(symbol)}

    def clock(req: Req) -> dict[str, Any]:
        body = _body(req)
        ms = _dec(body, "advance_ms", required=False)
        if ms is None:
            sec = _dec(body, "advance_s", required=False)
            if sec is None:
                raise mandatory("advance_ms")
            ms = sec * 1000
        if ms < 0:
            raise invalid("advance_ms")
        now = v.advance(int(ms))
        return {"venue_time": now, "server_time": v.api_now()}

    def order_target(req: Req, body: dict) -> tuple[str, str, int | None, str | None]:
        key, symbol = account_of(req, body), symbol_of(body)
        oid = body.get("orderId", body.get("algoId"))
        cid = body.get("origClientOrderId") or body.get("clientOrderId") or body.get("clientAlgoId")
        if oid is None and not cid:
            raise VenueError(-1102, "Either orderId or origClientOrderId must be sent.")
        return key, symbol, int(oid) if oid is not None else None, str(cid) if cid else None

    def end_order(req: Req) -> dict[str, Any]:
        body = _body(req)
        key, symbol, oid, cid = order_target(req, body)
        status = str(body.get("status") or "CANCELED").upper()
        if status not in ("CANCELED", "EXPIRED"):
            raise invalid("status")
        try:
            order = eng.cancel(key, symbol, oid, cid, v.now(), status=OrderStatus(status), algo=None)
        finally:
            v.commit()
        return algo_json(order, f, query=True) if order.algo_service else order_json(order, f)

    def fill(req: Req) -> dict[str, Any]:
        body = _body(req)
        key, symbol, oid, cid = order_target(req, body)
        try:
            order = eng.fill_part(key, symbol, oid, cid, _dec(body, "qty"), v.now(), _dec(body, "price", False))
        finally:
            v.commit()
        return order_json(order, f)

    def get_faults(req: Req) -> dict[str, Any]:
        return {"faults": v.faults.active(time.time())}

    def set_faults(req: Req) -> dict[str, Any]:
        body = _body(req)
        body.pop("account", None)
        try:
            values = parse_spec(body.pop("spec")) if "spec" in body else parse_spec(body)
        except FaultSpecError as exc:
            raise VenueError(-1130, str(exc)) from None
        v.faults.apply(values, time.time())
        dropped = hub.drop_all() if values.get("ws_disconnect") else 0
        if dropped:
            hub._ws_epoch = v.faults.ws_disconnect_epoch
        return {"faults": v.faults.active(time.time()), "ws_dropped": dropped}

    def clear_faults(req: Req) -> dict[str, Any]:
        v.faults.clear()
        return {"faults": {}}

    def liquidate(req: Req) -> dict[str, Any]:
        """Force the mark (and last) price through the position's liquidation price, and hold it there."""
        body = _body(req)
        key, symbol = account_of(req, body), symbol_of(body)
        side = PositionSide(str(body.get("positionSide") or "BOTH").upper())
        acct = eng.account(key, v.now())
        pos = acct.positions.get((symbol, side))
        if pos is None or pos.amount == 0:
            raise VenueError(-2022, f"No {side.value} position on {symbol} to liquidate.")
        view = eng.view(key)
        lp = liquidation_prices(view, acct, v.specs).get(id(pos), Decimal(0))
        spec = v.specs[symbol]
        lp_t = int((lp / spec.tick).to_integral_value())
        margin = max(1, lp_t // 1000)                   # 0.1 % beyond the liquidation price
        target = lp_t - margin if pos.amount > 0 else lp_t + margin
        target = max(1, target)
        before = len(eng.liquidations)
        v.hold(symbol, target, target, keep=True)
        liquidated = pos.amount == 0 or before != len(eng.liquidations)
        # `state`: the venue just after, taken in the same step (what a poller may never see: a lone leg
        # that its owner closes within milliseconds)
        return {"symbol": symbol, "liquidationPrice": plain_price(lp), "price": f.ticks(symbol, target),
                "liquidated": liquidated, "state": snapshot(sorted(eng.accounts))}

    def funding(req: Req) -> dict[str, Any]:
        body = _body(req)
        symbol = symbol_of(body)
        now = v.now()
        rate = _dec(body, "rate", required=False)
        if rate is None:
            rate = Decimal(repr(v.feed.funding(symbol, now, eng.markets[symbol].mark_t).rate))
        payments = eng.settle_funding(symbol, rate, now)
        v.commit()
        return {"symbol": symbol, "rate": fixed(rate, 8), "payments": payments}

    def keys(req: Req) -> dict[str, Any]:
        body = _body(req)
        key, secret = str(body.get("key") or ""), str(body.get("secret") or "")
        if not key or not secret:
            raise mandatory("key" if not key else "secret")
        if v.config.fixed_key and key == v.config.api_key:
            raise VenueError(-2015, "ASTER_PAPER_API_KEY's secret is set by ASTER_PAPER_API_SECRET.", 400)
        v.auth.register(key, secret)
        v.store.put_api_key(key, secret)
        return {"registered": key}

    def agents(req: Req) -> dict[str, Any]:
        if v.v3 is None:
            raise VenueError(-1130, "API wallets exist in the aster-v3 profile only (--profile aster-v3).")
        return {"agents": [a.to_dict() for a in sorted(v.v3.agents.values(), key=lambda a: a.agent)]}

    def add_agent(req: Req) -> dict[str, Any]:
        """Register an API wallet (agent) of a user; `agent` = `user` lets the main wallet sign for itself."""
        if v.v3 is None:
            raise VenueError(-1130, "API wallets exist in the aster-v3 profile only (--profile aster-v3).")
        body = _body(req)
        user = str(body.get("user") or "")
        agent = str(body.get("agent") or body.get("agentAddress") or user)
        for name, value in (("user", user), ("agent", agent)):
            if not is_address(value):
                raise invalid(name)
        whitelist = body.get("ipWhitelist") or ()
        if isinstance(whitelist, str):
            whitelist = whitelist.replace(",", " ").split()
        a = v.v3.register(Agent(user.lower(), agent.lower(), str(body.get("name") or body.get("agentName") or ""),
                                int(body.get("expired") or 0), _bool(body, "canPerpTrade", True),
                                tuple(str(x) for x in whitelist)))
        v.store.put_agent(a.agent, a.to_dict())
        return a.to_dict()

    def remove_agent(req: Req) -> dict[str, Any]:
        if v.v3 is None:
            raise VenueError(-1130, "API wallets exist in the aster-v3 profile only (--profile aster-v3).")
        agent = str(_body(req).get("agent") or "")
        if not is_address(agent):
            raise invalid("agent")
        removed = v.v3.remove(agent)
        if removed:
            v.store.delete_agent(agent.lower())
        return {"agent": agent.lower(), "removed": removed}

    def algo_events(req: Req) -> dict[str, Any]:
        """binance-usdm: shuffle the user-stream events of each commit and/or drop ALGO_UPDATE TRIGGERED."""
        if not v.profile.algo_service:
            raise VenueError(-1130, "ALGO_UPDATE exists in the binance-usdm profile only (--profile binance-usdm).")
        body = _body(req)
        shuffle, drop = _bool(body, "shuffle", False), _bool(body, "drop_triggered", False)
        v.algo_mixing = AlgoMixing(shuffle, drop, random.Random(v.config.seed)) if shuffle or drop else None
        return {"shuffle": shuffle, "drop_triggered": drop}

    add = app.add
    add("POST", "/admin/algo-events", algo_events, NONE)
    add("GET", "/admin/agents", agents, NONE)
    add("POST", "/admin/agents", add_agent, NONE)
    add("DELETE", "/admin/agents", remove_agent, NONE)
    add("GET", "/admin/state", state, NONE)
    add("POST", "/admin/balance", set_balance, NONE)
    add("POST", "/admin/price", set_price, NONE)
    add("POST", "/admin/fees", set_fees, NONE)
    add("DELETE", "/admin/price", release_price, NONE)
    add("POST", "/admin/clock", clock, NONE)
    add("POST", "/admin/orders/cancel", end_order, NONE)
    add("POST", "/admin/orders/fill", fill, NONE)
    add("GET", "/admin/faults", get_faults, NONE)
    add("POST", "/admin/faults", set_faults, NONE)
    add("DELETE", "/admin/faults", clear_faults, NONE)
    add("POST", "/admin/liquidate", liquidate, NONE)
    add("POST", "/admin/funding", funding, NONE)
    add("POST", "/admin/keys", keys, NONE)
