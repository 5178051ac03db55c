"""The engine's order side (trading on): account setup, admission, entries, exits, flat cleanup, the
margin kill-switch, the daily force-exit and restart adoption. Only orders whose client id this instance
owns are ever cancelled; positions are closed through the kernel's one close routine (mraster.safety).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mraster.domain.ownership import owns
from mraster.domain.rules import NoValidOrderError
from mraster.domain.types import MarginType, Order, OrderRequest, OrderStatus, Position
from mraster.exchange.errors import ExchangeError, OrderWouldTriggerError, UnknownOrderError
from mraster.logs import get_logger
from mraster.safety.closeout import close_position
from mraster.state.model import Trade

from momentum.signal import Quote
from momentum.orders import ROLES, ExitPlan, entry_request, exit_plan, exit_requests, role_of_type
from momentum.state import Held

if TYPE_CHECKING:
    from momentum.engine import Decision, Engine

log = get_logger("momentum.trading")
EXITS_CHECK_MS = 1_000           # armed exits compared with the venue's open orders at every (1 s) tick
D0 = Decimal(0)


def _req_json(r: OrderRequest) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else getattr(v, "value", v)) for k, v in asdict(r).items()
            if v is not None}


class Trading:
    def __init__(self, engine: "Engine"):
        self.e = engine
        self.fee_bps = engine.cfg.taker_fee_bps
        self._exits_checked: dict[str, int] = {}
        self.exits_check_ms = EXITS_CHECK_MS

    # ------------------------------------------------------------------ start
    async def setup(self) -> None:
        """ensure_risk_setup (leverage, margin type) on every symbol, the taker fee, then adoption."""
        e, c = self.e, self.e.client
        if await c.get_position_mode():
            raise ValueError("the account is in hedge (dual-side) mode; the momentum engine trades one-way mode")
        mt = MarginType.ISOLATED if e.cfg.margin_type == "ISOLATED" else MarginType.CROSSED
        for sym in e.cfg.symbols:
            try:
                await c.set_leverage(sym, e.cfg.leverage)
                await c.set_margin_type(sym, mt)
            except ExchangeError as exc:        # e.g. margin type cannot change while a position is open
                log.warning("momentum.risk_setup", f"{sym}: leverage/margin type not set ({exc})", symbol=sym)
        if self.fee_bps <= 0:
            try:
                _, taker = await c.commission_rate(e.cfg.symbols[0])
                self.fee_bps = float(taker) * 1e4
            except ExchangeError as exc:
                self.fee_bps = 5.0
                log.warning("momentum.fee_unknown", f"commission rate not read ({exc}); 5 bps assumed")
        await self.adopt()

    async def adopt(self) -> None:
        """After a restart: positions the state knows, or that carry exits this instance owns, are adopted
        with their exits (missing ones re-armed at the next tick); a symbol found flat is cleaned up; a
        position with no trace of this instance is left alone and blocks entries on its symbol."""
        e, c = self.e, self.e.client
        positions = await c.positions()
        orders = await c.open_orders()
        for sym in e.cfg.symbols:
            st = e.states[sym]
            pos = e.held_position(positions, sym)
            owned = [o for o in orders if o.symbol == sym and owns(e.cfg.instance, o.client_order_id)]
            pending = st.pending_entry
            if pending and st.held is None:
                entry = await self._lookup(sym, pending["cid"])
                st.pending_entry = None
                if pos is not None and entry is not None and entry.executed_qty > 0:
                    st.held = self._held_from(sym, pos, entry.client_order_id, adopted=False)
            if pos is not None and st.held is None and owned:
                st.held = self._held_from(sym, pos, "", adopted=True)
            if st.held is not None and pos is not None:
                st.held.qty = str(pos.qty)
                for o in owned:
                    role = role_of_type(o.placed_type)
                    if role:
                        st.held.exits[role] = o.client_order_id
                e.runs[sym].last_action = "adopted after restart" + (" (found by its exits)" if st.held.adopted else "")
                log.info("momentum.adopted", f"{sym}: open position adopted with {len(owned)} owned exit(s)",
                         symbol=sym, qty=st.held.qty)
                self._journal_trade(sym, st.held, "open")
            elif st.held is not None and pos is None:
                await self.on_flat(sym, owned)
            elif pos is None and owned:
                await self._cancel(sym, owned, "leftover exits of a closed position")
            elif pos is not None:
                e.runs[sym].last_action = "position not opened by this engine: left alone, no entries"
        e.save()

    async def resolve_pending(self, sym: str) -> None:
        """An entry whose answer was lost: the venue's record of it decides (filled -> held, else dropped)."""
        e = self.e
        st = e.states[sym]
        pending = st.pending_entry or {}
        try:
            order = await self._lookup(sym, str(pending.get("cid")))
            positions = await e.client.positions(sym)
        except ExchangeError:
            return
        if order is not None and order.is_open:
            return
        pos = e.held_position(positions, sym)
        st.pending_entry = None
        if order is not None and order.executed_qty > 0 and pos is not None:
            st.held = self._held_from(sym, pos, order.client_order_id, adopted=False)
            self._journal_trade(sym, st.held, "open")
        e.save()

    def _held_from(self, sym: str, pos: Position, entry_cid: str, adopted: bool) -> Held:
        e = self.e
        side = 1 if pos.is_long else -1
        plan = exit_plan(side, pos.entry_price, e.rules[sym], e.runs[sym].params, self.fee_bps, 0.0, 0.0)
        stamp = e.ids("T").rsplit(".", 1)[1]
        return Held(f"{e.cfg.instance}-{sym}-{stamp}", side, str(pos.qty), str(pos.entry_price), e.now_ms(),
                    entry_cid, {}, plan.to_json(), e.config_of(sym), adopted=adopted)

    async def _lookup(self, sym: str, cid: str) -> Order | None:
        try:
            return await self.e.client.get_order(sym, client_order_id=cid)
        except UnknownOrderError:
            return None

    # ------------------------------------------------------------------ one tick
    async def step(self, now: int) -> list["Decision"]:
        from momentum.engine import Decision
        e = self.e
        candidates = [s for s, r in e.runs.items() if r.fresh_side]
        for sym, st in e.states.items():
            if st.pending_entry and st.held is None:
                await self.resolve_pending(sym)
            if st.leftovers and st.held is None:
                await self.retry_leftovers(sym)
        holding = [s for s, st in e.states.items() if st.held is not None]
        positions: list[Position] = await e.client.positions() if holding or candidates else []
        for sym in holding:
            pos = e.held_position(positions, sym)
            held = e.states[sym].held
            if held is None:
                continue
            if pos is None:
                await self.on_flat(sym)
                continue
            if str(pos.qty) != held.qty:
                held.qty = str(pos.qty)
                e.save()
            # every second for a few positions; with many, spread out so the reads stay ~5 weight a second
            every = max(self.exits_check_ms, 200 * len(holding)) if self.exits_check_ms else 0
            if now - self._exits_checked.get(sym, 0) >= every or len(held.exits) < len(ROLES):
                await self.ensure_exits(sym, pos, now)
        live = [e.held_position(positions, s) for s in holding if e.states[s].held is not None]
        held_now = [p for p in live if p is not None]
        if held_now:
            await self.check_margin(held_now)
        if e.phase == "force_exit":
            for p in held_now:
                if e.states[p.symbol].held is not None:
                    await self.close(p, "force_exit")
        decisions: list[Decision] = []
        for sym in candidates:
            side = e.runs[sym].fresh_side
            why = self.admit(sym, side, now, positions)
            if why:
                e.runs[sym].last_action = f"{'LONG' if side > 0 else 'SHORT'} signal skipped: {why}"
                decisions.append(Decision(sym, side, f"skip:{why}"))
                log.info("momentum.skip", f"{sym}: signal skipped ({why})", symbol=sym, side=side, reason=why)
                continue
            decisions.append(await self.enter(sym, side, now))
        return decisions

    # ------------------------------------------------------------------ admission
    def admit(self, sym: str, side: int, now: int, positions: list[Position]) -> str:
        """The engine's own admission of an entry: "" to enter, else why not. The account's risk gate
        (mraster/safety/gate.py) is asked next, in `enter`, once the order's notional is known."""
        e = self.e
        st = e.states[sym]
        if e.phase == "force_exit":
            return f"force-exit window (from {e.cfg.force_exit_utc} UTC)"
        if e.phase == "halted":
            return f"entry halt (from {e.cfg.entry_halt_utc} UTC)"
        blocked = e.entries_blocked()
        if blocked:
            return blocked
        if e.kill.get("fired") and e.fire_latch is None:   # with the account's latch, the latch decides (a reset)
            return "margin kill-switch fired in this run"
        if st.held is not None or st.pending_entry:
            return "position open: no re-entry"
        if st.leftovers:
            return f"exits of the last position not cancelled yet ({', '.join(st.leftovers)})"
        if e.held_position(positions, sym) is not None:
            return "the venue shows a position on this symbol not entered by this engine"
        if now < st.cooldown_until_ms:
            return f"cooldown for {(st.cooldown_until_ms - now) / 1000:.0f} s more"
        if e.touch(sym) is None:
            return "no quote"
        if sym not in e.rules:
            return "no symbol rules"
        return ""

    # ------------------------------------------------------------------ entry
    async def enter(self, sym: str, side: int, now: int) -> "Decision":
        from momentum.engine import Decision
        e = self.e
        run, st = e.runs[sym], e.states[sym]
        touch = e.touch(sym)
        assert touch is not None
        bid, ask = touch
        cid = e.ids(f"{sym}.EN")
        try:
            req = entry_request(sym, side, e.rules[sym], float(bid), float(ask), e.cfg.order_notional, cid)
        except NoValidOrderError as exc:
            run.last_action = f"entry impossible: {exc}"
            return Decision(sym, side, f"skip:{exc}")
        ol_long, ol_short = Quote(float(bid), float(ask), 0.0).opening_loss()   # the kernel's one definition
        ol = ol_long if side > 0 else ol_short
        funding = run.signal.blockers.funding_bps if run.signal and run.signal.blockers else 0.0
        config = e.config_of(sym)
        if e.gate is not None:                            # the account's risk gate, shared by every engine on it
            decision = await e.gate.admit(e.cfg.instance, sym, req.side, (req.quantity or D0) * (req.price or D0))
            if not decision:
                run.last_action = f"{'LONG' if side > 0 else 'SHORT'} signal refused by the risk gate: {decision.reason}"
                log.info("momentum.gate", f"{sym}: {decision.reason}", symbol=sym, code=decision.code)
                return Decision(sym, side, f"skip:gate {decision.code}: {decision.reason}")
        st.pending_entry = {"cid": cid, "side": side, "time_ms": now, "price": str(req.price),
                            "qty": str(req.quantity), "opening_loss_bps": ol, "funding_bps": funding}
        e.save()                                          # before the send: a restart knows what is in flight
        e.write_status()                                  # and the claim is on disk before the order (owners.py)
        trade_id = f"{e.cfg.instance}-{sym}-{cid.rsplit('.', 1)[1]}"
        row = self._journal_order(now, trade_id, sym, "entry", req)
        t_sent = time.perf_counter()
        try:
            order = await e.client.place_order(req)
        except ExchangeError as exc:
            self._journal_result(row, None, str(exc))
            try:                                          # the client already looked it up; once more to be sure
                found = await self._lookup(sym, cid)
            except ExchangeError:
                found = None                              # the pending entry stays: the next start resolves it
                run.last_action = f"entry outcome unknown: {exc}"
                return Decision(sym, side, f"error:{exc}")
            if found is None:
                st.pending_entry = None
                e.save()
                self._release(sym)
                run.last_action = f"entry refused: {exc}"
                log.warning("momentum.entry_failed", f"{sym}: entry not placed ({exc})", symbol=sym)
                return Decision(sym, side, f"error:{exc}")
            order = found
        self._journal_result(row, order, None)
        wall_ms = (time.perf_counter() - t_sent) * 1000
        from_signal_ms = (time.perf_counter() - run.signal_t) * 1000 if run.signal_t else wall_ms
        if order.executed_qty <= 0:
            st.pending_entry = None
            e.save()
            self._release(sym)
            run.last_action = f"IOC entry at {req.price} not filled ({order.status.value})"
            log.info("momentum.entry_unfilled", f"{sym}: IOC at {req.price} not filled", symbol=sym)
            return Decision(sym, side, "unfilled", {"price": str(req.price)})
        e.latencies_ms.append(from_signal_ms)
        entry_px = order.avg_price if order.avg_price > 0 else req.price or D0
        plan = exit_plan(side, entry_px, e.rules[sym], run.params, self.fee_bps, ol, funding)
        st.held = Held(trade_id, side, str(order.executed_qty), str(entry_px), now, cid, {}, plan.to_json(), config)
        st.pending_entry = None
        e.save()
        self._journal_trade(sym, st.held, "open", signal=run.signal.to_json() if run.signal else None)
        run.last_action = f"entered {'LONG' if side > 0 else 'SHORT'} {order.executed_qty} at {entry_px}"
        log.info("momentum.entry", f"{sym}: {run.last_action}", symbol=sym, side=side, qty=str(order.executed_qty),
                 price=str(entry_px), config=config)
        pos = Position(sym, order.position_side, order.executed_qty if side > 0 else -order.executed_qty, entry_px)
        await self.ensure_exits(sym, pos, now)
        return Decision(sym, side, "enter", {"price": str(entry_px), "qty": str(order.executed_qty),
                                             "latency_ms": from_signal_ms, "send_ms": wall_ms,
                                             "plan": plan.to_json()})

    def _release(self, sym: str) -> None:
        if self.e.gate is not None:
            self.e.gate.release(self.e.cfg.instance, sym)

    # ------------------------------------------------------------------ exits
    async def ensure_exits(self, sym: str, pos: Position, now: int) -> None:
        """Every role armed for the position's quantity. A role missing from the venue's open orders is sent
        again under the same client id while the venue does not know that id (so a lost answer never makes
        two orders), under a fresh id once the old order has ended. A stop the venue refuses as already
        crossed closes the position."""
        e = self.e
        held = e.states[sym].held
        if held is None:
            return
        self._exits_checked[sym] = now
        open_ids = {o.client_order_id for o in await e.client.open_orders(sym)}
        missing = [r for r in ROLES if held.exits.get(r) not in open_ids]
        if not missing:
            return
        plan = ExitPlan.from_json(held.plan)
        for role in missing:
            cid = await self._exit_id(sym, held.exits.get(role), role)
            if cid is None:
                continue
            (req,) = exit_requests(sym, plan, pos.qty, lambda _role, cid=cid: cid, (role,))
            held.exits[role] = cid                  # before the send: a lost answer is looked up by this id
            e.save()
            row = self._journal_order(now, held.trade_id, sym, role, req)
            try:
                order = await e.client.place_order(req)
            except OrderWouldTriggerError as exc:
                self._journal_result(row, None, str(exc))
                if role == "SL":
                    log.warning("momentum.stop_crossed", f"{sym}: stop already crossed ({exc}); closing", symbol=sym)
                    await self.close(pos, "stop_crossed")
                    return
                continue                           # TP / trailing past the price: the stop still protects
            except ExchangeError as exc:
                self._journal_result(row, None, str(exc))
                log.warning("momentum.exit_failed", f"{sym}: {role} not confirmed ({exc}); checked next tick",
                            symbol=sym, role=role)
                continue
            self._journal_result(row, order, None)
            held.exits[role] = order.client_order_id
        e.save()

    async def _exit_id(self, sym: str, old: str | None, role: str) -> str | None:
        """The client id to (re)send an exit under; None when the previous one's fate is unknown yet."""
        e = self.e
        if not old:
            return e.ids(f"{sym}.{role}")
        try:
            o = await self._lookup(sym, old)
        except ExchangeError:
            return None
        if o is None:
            return old                             # the venue never took it: the same id again, never two
        if o.is_open:
            return None                            # resting after all (the open-orders read was older)
        return e.ids(f"{sym}.{role}")              # it ended (cancelled, expired, filled): a fresh id

    async def _cancel(self, sym: str, orders: list[Order], why: str) -> None:
        """Cancel owned orders; one the venue did not confirm is kept in the symbol's `leftovers`, retried
        every tick, and blocks entries on the symbol until it is gone (no second stop beside an old one)."""
        e = self.e
        st = e.states[sym]
        failed = []
        for o in orders:
            if not owns(e.cfg.instance, o.client_order_id):
                continue                           # never touch what another instance or a person placed
            try:
                await e.client.cancel_order(sym, client_order_id=o.client_order_id)
            except UnknownOrderError:
                pass
            except ExchangeError as exc:
                failed.append(o.client_order_id)
                log.warning("momentum.cancel_failed", f"{sym}: {o.client_order_id} not cancelled ({exc}); "
                            "retried next tick", symbol=sym)
        if failed or st.leftovers:
            st.leftovers = sorted(set(failed) | (set(st.leftovers) - {o.client_order_id for o in orders}))
            e.save()
        if orders:
            log.info("momentum.siblings_cancelled", f"{sym}: {why}", symbol=sym, n=len(orders))

    async def retry_leftovers(self, sym: str) -> None:
        """Leftover exits of a closed position whose cancel failed: gone once the venue says so."""
        e = self.e
        st = e.states[sym]
        try:
            still = [o for o in await e.client.open_orders(sym) if o.client_order_id in set(st.leftovers)]
        except ExchangeError:
            return
        if not still:
            st.leftovers = []
            e.save()
            return
        await self._cancel(sym, still, "leftover exits cancelled")

    # ------------------------------------------------------------------ flat
    async def on_flat(self, sym: str, owned: list[Order] | None = None) -> None:
        """The venue shows the symbol flat: cancel the sibling exits (cancel_sibling_exit_orders), close the
        trade in the journal with what ended it, start the cooldown."""
        e = self.e
        st = e.states[sym]
        held = st.held
        if owned is None:
            owned = [o for o in await e.client.open_orders(sym) if owns(e.cfg.instance, o.client_order_id)]
        await self._cancel(sym, owned, "flat: sibling exits cancelled")
        now = e.now_ms()
        if held is None:
            return
        reason, exit_px = held.close_reason or "closed", None
        if not held.close_reason:
            for role, cid in held.exits.items():
                o = await self._lookup(sym, cid)
                if o is not None and o.status is OrderStatus.FILLED and o.executed_qty > 0:
                    reason, exit_px = {"TP": "take_profit", "SL": "stop_loss", "TR": "trailing_stop"}[role], o.avg_price
                    break
        pnl = fees = None
        try:
            fills = await e.client.user_trades(sym, start_time=held.entry_time_ms - 60_000)
            if e.journal is not None:
                e.journal.record_fills(held.trade_id, fills)
            mine = [f for f in fills if f.time >= held.entry_time_ms - 1000]
            pnl = sum((f.realized_pnl for f in mine), D0)
            fees = sum((f.commission for f in mine), D0)
        except ExchangeError as exc:
            log.warning("momentum.fills_unread", f"{sym}: fills not read ({exc})", symbol=sym)
        st.last_exit = {"trade_id": held.trade_id, "reason": reason, "time_ms": now,
                        "exit_price": None if exit_px is None else str(exit_px),
                        "realized_pnl": None if pnl is None else str(pnl), "fees": None if fees is None else str(fees)}
        self._journal_trade(sym, held, "closed", exit_reason=reason, exit_price=exit_px, pnl=pnl, fees=fees, now=now)
        st.held = None
        st.cooldown_until_ms = now + e.cooldown_ms(sym)
        e.save()
        e.runs[sym].last_action = f"flat ({reason}): exits cleaned up, cooldown started"
        log.info("momentum.flat", f"{sym}: position closed ({reason}); cooldown {e.cooldown_ms(sym) // 1000} s",
                 symbol=sym, reason=reason, pnl=None if pnl is None else str(pnl))

    # ------------------------------------------------------------------ closes
    async def close(self, pos: Position, reason: str) -> None:
        """Close at market through the kernel routine (reduce-only, chunked, never sent twice on a guess);
        the flat cleanup follows at the next tick when the venue shows it flat."""
        e = self.e
        held = e.states[pos.symbol].held
        if held is not None:
            held.close_reason = held.close_reason or reason
            e.save()
        result = await close_position(e.client, pos, lambda n: e.ids(f"{pos.symbol}.CL{n}"),
                                      rules=e.rules.get(pos.symbol))
        e.runs[pos.symbol].last_action = f"closing ({reason}): {result.closed} of {result.start} closed" + (
            f"; {result.error}" if result.error else "")
        log.warning("momentum.close", f"{pos.symbol}: {e.runs[pos.symbol].last_action}", symbol=pos.symbol,
                    reason=reason, close=result.to_json())
        if result.remaining <= 0:
            await self.on_flat(pos.symbol)

    async def check_margin(self, held: list[Position]) -> None:
        """Seed's margin kill-switch: totalMarginBalance / totalMaintMargin <= SAFETY_MULTIPLE fires the
        account's kill-switch latch (no entries until a person resets it) and closes this engine's positions."""
        e = self.e
        try:
            acct = await e.client.account()
        except ExchangeError as exc:
            log.warning("momentum.account_unread", f"account not read for the kill-switch ({exc})")
            return
        if acct.total_maint_margin <= 0:
            return
        multiple = acct.total_margin_balance / acct.total_maint_margin
        e.kill = {"safety_multiple": float(multiple), "threshold": e.cfg.safety_multiple, "fired": e.kill.get("fired")}
        if multiple > Decimal(str(e.cfg.safety_multiple)):
            return
        reason = f"safety multiple {float(multiple):.3f} <= {e.cfg.safety_multiple:g}"
        e.kill["fired"] = reason
        log.error("momentum.kill_switch", f"margin kill-switch: {reason}; closing every position of "
                  f"{e.cfg.instance}", multiple=float(multiple))
        if e.fire_latch is not None:
            e.fire_latch(reason, {"safety_multiple": str(multiple), "instance": e.cfg.instance})
        await asyncio.gather(*(self.close(p, "kill_switch") for p in held))

    # ------------------------------------------------------------------ journal
    def _journal_order(self, now: int, trade_id: str, sym: str, role: str, req: OrderRequest) -> int | None:
        j = self.e.journal
        if j is None:
            return None
        row: int | None = j.order_sending(time_ms=now, trade_id=trade_id, symbol=sym, role=role,
                                          client_id=req.client_order_id, action="place", request=_req_json(req))
        return row

    def _journal_result(self, row: int | None, order: Order | None, error: str | None) -> None:
        j = self.e.journal
        if j is None or row is None:
            return
        if order is None:
            j.order_result(row, status="error", error=error)
        else:
            j.order_result(row, status=order.status.value, order_id=order.order_id,
                           result={"executed_qty": str(order.executed_qty), "avg_price": str(order.avg_price)})

    def _journal_trade(self, sym: str, held: Held, status: str, *, signal: Any = None, exit_reason: str = "",
                       exit_price: Decimal | None = None, pnl: Decimal | None = None, fees: Decimal | None = None,
                       now: int = 0) -> None:
        j = self.e.journal
        if j is None:
            return
        plan = held.plan
        t = Trade(held.trade_id, sym, "LONG" if held.side > 0 else "SHORT", status=status,
                  qty=Decimal(held.qty) if status != "closed" else D0, entry_price=Decimal(held.entry_price),
                  entry_time_ms=held.entry_time_ms, stop_price=Decimal(plan["stop_price"]),
                  take_profit_price=Decimal(plan["take_profit_price"]),
                  trailing_callback=Decimal(plan["callback_rate"]), trailing_activation=Decimal(plan["activation_price"]),
                  adopted=held.adopted, client_ids=dict(held.exits), entry_qty=Decimal(held.qty),
                  context={"engine": "momentum", "instance": self.e.cfg.instance, "config": held.config,
                           "plan": plan, **({"signal": signal} if signal else {})},
                  exit_price=exit_price, exit_time_ms=now if status == "closed" else 0, exit_reason=exit_reason,
                  realized_pnl=pnl, fees=fees, updated_ms=now or held.entry_time_ms)
        j.upsert_trade(t)
