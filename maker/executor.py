"""The executor service: one account, signed instructions in, orders on the venue out.

    mraster maker executor --account B --port 8081

HTTP: `POST /instruction` (signed, see maker/protocol.py), `GET /health`, `GET /status`,
`GET /stats?hours=2`, `POST /emergency_stop`, `POST /reset` (both signed, or unsigned from loopback).
The rules live in `executor_core.py`; this module does the venue calls and the loops:

- every 100 ms: cancel maker orders at their expiry; cancel everything once the coordinator is silent;
- the user-data stream (fills, order ends, position), with a REST reconcile every 2 s that also
  cancels any open order of ours it does not track (an order whose acknowledgement was lost);
- venue calls go through the kernel client with `venue_attempts` tries in all (never doubling an
  order: it looks the client id up before sending again), then the instruction is skipped.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from decimal import Decimal
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mraster.domain.ownership import OrderIds, owns
from mraster.domain.signed import SIG_HEADER, TS_HEADER, SignatureError, Verifier
from mraster.domain.types import (
    AccountUpdate, ExecutionType, OrderRequest, OrderStatus, OrderType, OrderUpdate, Side, StreamResynced,
    TimeInForce,
)
from mraster.exchange.errors import ExchangeError, RequestError, UnknownOrderError
from mraster.exchange.interface import Exchange
from mraster.logs import get_logger
from mraster.safety.closeout import close_position

from maker import journal as jr
from maker.executor_core import ExecutorCore, TrackedMaker
from maker.protocol import Instruction, InstructionError, parse

log = get_logger("maker.executor")
TICK_S, RECONCILE_S = 0.1, 2.0
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class ExecutorService:
    def __init__(self, exchange: Exchange, *, server: str, instance: str, symbol: str, max_usd: Decimal,
                 secret: str, journal_path: Any, silence_s: float = 15.0, max_age_s: float = 10.0,
                 default_expire_s: float = 30.0, leverage: int = 5,
                 clock: Callable[[], float] = time.time,
                 stats: Callable[[float], Any] | None = None, max_usd_fn: Callable[[], Decimal] | None = None,
                 countdown_s: float = 0.0, gate: Any = None):
        self.exchange = exchange
        self.server, self.instance, self.symbol = server, instance, symbol
        self.core = ExecutorCore(server, instance, max_usd=max_usd, silence_ms=int(silence_s * 1000),
                                 default_expire_s=default_expire_s, symbol=symbol)
        self.verifier = Verifier(secret, int(max_age_s * 1000))
        self.journal = jr.Journal(journal_path)
        self.journal_path = journal_path
        self.ids = OrderIds(instance)
        self.leverage = leverage
        self.clock = clock
        self.stats_fn = stats
        self.max_usd_fn = max_usd_fn           # the maximum read again every reconcile (a dashboard edit)
        self.gate = gate                       # the kernel's risk gate (mraster/safety/gate.py), or None
        # the venue's dead-man switch, refreshed every reconcile (so never shorter than 1.5 reconciles)
        self.countdown_ms = 0 if countdown_s <= 0 else max(int(countdown_s * 1000), int(RECONCILE_S * 1500))
        self.fills: deque[dict[str, Any]] = deque(maxlen=100)
        self.realized = Decimal(0)
        self.fees = Decimal(0)
        self.mark = Decimal(0)
        self.in_flight: set[str] = set()
        self.venue_error = ""
        self.started_ms = self.now_ms()
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        for rec in jr.read(self.journal_path):
            if rec.get("cid") and rec.get("ev") == "placed":
                self.core.done_ids[str(rec["cid"])] = "placed before a restart"
        try:
            await self.exchange.set_leverage(self.symbol, self.leverage)
        except ExchangeError as exc:
            log.warning("maker.leverage", f"leverage {self.leverage} not set on {self.symbol}: {exc}")
        await self.reconcile(cancel_unknown=True)
        self._tasks = [asyncio.create_task(self._tick_loop()), asyncio.create_task(self._reconcile_loop()),
                       asyncio.create_task(self._stream_loop())]

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.journal.close()

    # ------------------------------------------------------------------ instructions
    async def handle(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        now = self.now_ms()
        try:
            ins = parse(body)
            self.verifier.check(body, headers.get(TS_HEADER.lower()), headers.get(SIG_HEADER.lower()), ins.id, now)
        except (InstructionError, SignatureError) as exc:
            log.warning("maker.refused", f"instruction refused: {exc}", server=self.server)
            return 401 if isinstance(exc, SignatureError) else 400, {"ok": False, "error": str(exc)}
        if self.core.mode != "stopped":
            self.core.hear(now)
        why = await self.gate_check(ins)
        why = why or self.core.admit(ins, Decimal(ins.price) if ins.action == "maker" else self.mark)
        if why:
            if ins.action in ("maker", "taker"):
                self.journal.write(now, "refused", kind=ins.action, cid=ins.client_id, why=why)
            return 409, {"ok": False, "error": why}
        if ins.action == "heartbeat":
            return 200, {"ok": True, "mode": self.core.mode}
        if ins.action == "cancel":
            return 200, await self.cancel(ins.client_id, "cancelled")
        if ins.action == "cancel_all":
            return 200, {"ok": True, "cancelled": await self.cancel_all("coordinator asked")}
        return 200, await self.place(ins)

    async def gate_check(self, ins: Instruction) -> str:
        """The kernel's risk gate for an order that may open or add to the position (kill-switch latch, another
        owner on the symbol, account caps); "" = go. Reducing orders and non-orders pass. It runs before the
        executor's own admission, which then reserves the order synchronously (no await in between)."""
        if self.gate is None or ins.action not in ("maker", "taker") or self.core.mode != "active":
            return ""
        sign = Decimal(1) if ins.side == "BUY" else Decimal(-1)
        if self.core.position * sign < 0 and ins.qty <= abs(self.core.position):
            return ""
        price = ins.price if ins.action == "maker" else self.mark
        decision = await self.gate.admit(self.instance, self.symbol, Side(ins.side), ins.qty * price)
        if decision:
            return ""
        return f"risk gate: {decision.reason} ({decision.code})"

    async def place(self, ins: Instruction) -> dict[str, Any]:
        """THE order path of maker and taker instructions (one function, so a kernel risk gate fits here)."""
        now = self.now_ms()
        maker = ins.action == "maker"
        req = OrderRequest(self.symbol, Side(ins.side), OrderType.LIMIT if maker else OrderType.MARKET, ins.client_id,
                           quantity=ins.qty, price=ins.price if maker else None,
                           time_in_force=TimeInForce.GTX if maker else None,
                           reduce_only=ins.reduce_only and not maker)
        if maker:
            self.core.track(ins, now)
        else:
            self.core.takers[ins.client_id] = (ins.side, ins.qty, None)
        self.core.done_ids[ins.client_id] = "sent"
        self.in_flight.add(ins.client_id)
        self.journal.write(now, "placed", kind=ins.action, cid=ins.client_id, side=ins.side, qty=str(ins.qty),
                           price=str(ins.price) if maker else "", expire_s=self.core.expire_s(ins) if maker else None)
        try:
            order = await self.exchange.place_order(req)
        except RequestError as exc:
            self.core.takers.pop(ins.client_id, None)
            self.core.forget(ins.client_id, "rejected")
            self.journal.write(self.now_ms(), "rejected", cid=ins.client_id, why=str(exc))
            return {"ok": False, "error": f"rejected: {exc}"}
        except ExchangeError as exc:   # tried `venue_attempts` times (the client never doubles): skip it
            self.venue_error = str(exc)
            self.journal.write(self.now_ms(), "skipped", cid=ins.client_id, why=str(exc))
            log.warning("maker.skipped", f"{ins.action} {ins.client_id} skipped after the venue failed: {exc}",
                        server=self.server)
            return {"ok": False, "error": f"skipped: {exc}"}
        finally:
            self.in_flight.discard(ins.client_id)
        self.journal.write(self.now_ms(), "ack", cid=ins.client_id, order_id=order.order_id,
                           status=order.status.value, filled=str(order.executed_qty))
        if not maker:          # counted as pending until a position read that started after this answer
            self.core.takers[ins.client_id] = (ins.side, order.executed_qty, self.now_ms())
        m = self.core.makers.get(ins.client_id)
        if m is not None:
            m.order_id = order.order_id
            if not order.is_open:
                m.filled = max(m.filled, order.executed_qty)
                self.core.forget(ins.client_id, order.status.value.lower())
        return {"ok": True, "order_id": order.order_id, "status": order.status.value,
                "filled": str(order.executed_qty)}

    async def cancel(self, client_id: str, why: str) -> dict[str, Any]:
        if not owns(self.instance, client_id):
            return {"ok": False, "error": f"{client_id} is not ours"}
        try:
            await self.exchange.cancel_order(self.symbol, client_order_id=client_id)
        except UnknownOrderError:
            pass                          # already gone (filled, expired or never placed)
        except RequestError as exc:
            self.core.forget(client_id, "gone")
            return {"ok": True, "note": str(exc)}
        except ExchangeError as exc:
            m = self.core.makers.get(client_id)
            if m is not None:
                m.cancel_tries += 1
            return {"ok": False, "error": str(exc)}
        self.core.forget(client_id, why)
        self.journal.write(self.now_ms(), why, cid=client_id)
        return {"ok": True}

    async def cancel_all(self, why: str) -> int:
        """Cancel every open order of ours (tracked or found on the venue); the count cancelled."""
        cids = set(self.core.makers)
        try:
            cids |= {o.client_order_id for o in await self.exchange.open_orders(self.symbol)
                     if self._mine(o.client_order_id)}
        except ExchangeError as exc:
            log.warning("maker.open_orders", f"open orders not read ({exc}); cancelling the tracked ones")
        results = await asyncio.gather(*(self.cancel(c, "cancelled") for c in cids))
        log.info("maker.cancel_all", f"{len(cids)} order(s) cancelled: {why}", server=self.server)
        return sum(1 for r in results if r.get("ok"))

    def _mine(self, client_id: str) -> bool:
        return owns(self.instance, client_id) and client_id.split(":", 1)[1].startswith(f"{self.server}.")

    async def emergency_stop(self, reason: str) -> dict[str, Any]:
        """Refuse instructions, cancel every order of ours, close the position reduce-only."""
        self.core.stop(reason)
        self.journal.write(self.now_ms(), "emergency_stop", why=reason)
        cancelled = await self.cancel_all(f"emergency stop: {reason}")
        closed: list[dict[str, Any]] = []
        for _ in range(3):
            try:
                positions = [p for p in await self.exchange.positions(self.symbol) if not p.is_flat]
            except ExchangeError as exc:
                closed.append({"error": f"positions not read: {exc}"})
                continue
            if not positions:
                break
            for p in positions:
                cid = self.ids(f"{self.server}.es")
                self.journal.write(self.now_ms(), "placed", kind="taker", cid=cid, side=p.exit_side.value,
                                   qty=str(p.qty), price="", reduce_only=True)
                result = await close_position(self.exchange, p, cid)
                closed.append(result.to_json())
        await self.reconcile()
        log.warning("maker.emergency_stop", f"executor {self.server} stopped: {reason}", server=self.server)
        return {"ok": True, "mode": self.core.mode, "cancelled": cancelled, "closes": closed,
                "position": str(self.core.position)}

    # ------------------------------------------------------------------ loops
    async def _tick_loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:   # a loop that must not die: log and go on
                log.exception("maker.tick", f"tick failed: {exc}")
            await asyncio.sleep(TICK_S)

    async def tick(self) -> None:
        now = self.now_ms()
        if self.core.check_silence(now):
            log.warning("maker.silent", f"no word from the coordinator for {self.core.silence_ms / 1000:.0f} s: "
                        "cancelling every order and trading no more until it is heard again", server=self.server)
            self.journal.write(now, "silent")
            await self.cancel_all("coordinator silent")
        due: list[TrackedMaker] = [m for m in self.core.due(now) if m.client_id not in self.in_flight]
        if due:
            await asyncio.gather(*(self.cancel(m.client_id, "expired") for m in due))

    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_S)
            try:
                await self.reconcile(cancel_unknown=True)
            except Exception as exc:
                log.exception("maker.reconcile", f"reconcile failed: {exc}")

    async def reconcile(self, cancel_unknown: bool = False) -> None:
        """Position, mark and open orders from REST. An open order of ours that is not tracked (lost
        acknowledgement, a previous run) is cancelled at once; a tracked one the venue no longer has is dropped."""
        if self.max_usd_fn is not None:
            self.core.max_usd = self.max_usd_fn()
        countdown = getattr(self.exchange, "countdown_cancel_all", None)
        if self.countdown_ms > 0 and countdown is not None:
            try:          # if this process dies, the venue cancels its resting orders within the countdown
                await countdown(self.symbol, self.countdown_ms)
            except ExchangeError as exc:
                log.warning("maker.countdown", f"dead-man switch not refreshed: {exc}", server=self.server)
        as_of = self.now_ms()
        try:
            positions = await self.exchange.positions(self.symbol)
            orders = await self.exchange.open_orders(self.symbol)
            self.mark = Decimal(str((await self.exchange.mark_price(self.symbol)).mark_price))
        except ExchangeError as exc:
            self.venue_error = str(exc)
            return
        self.venue_error = ""
        self.core.position_seen(as_of, sum((p.amount for p in positions), Decimal(0)))
        open_ids = {o.client_order_id for o in orders}
        for o in orders:
            m = self.core.makers.get(o.client_order_id)
            if m is not None:
                m.filled = max(m.filled, o.executed_qty)
                m.order_id = o.order_id
            elif cancel_unknown and self._mine(o.client_order_id) and o.client_order_id not in self.in_flight:
                await self.cancel(o.client_order_id, "cancelled")
        for cid, m in list(self.core.makers.items()):
            if cid not in open_ids and cid not in self.in_flight and m.order_id is not None:
                self.core.forget(cid, "closed")

    async def _stream_loop(self) -> None:
        while True:
            stream = self.exchange.user_stream()
            try:
                async for event in stream:
                    self.on_event(event)
            except asyncio.CancelledError:
                await stream.close()
                raise
            except Exception as exc:
                log.warning("maker.stream", f"user stream ended ({exc}); reopening")
                await stream.close()
                await asyncio.sleep(1.0)

    def on_event(self, event: Any) -> None:
        if isinstance(event, OrderUpdate) and event.order.symbol == self.symbol:
            o = event.order
            if event.execution_type is ExecutionType.TRADE and event.last_filled_qty > 0:
                self.core.fill(o.client_order_id, event.last_filled_qty)
                self.realized += event.realized_pnl
                self.fees += event.commission
                self.fills.append({"t": event.transaction_time, "cid": o.client_order_id, "side": o.side.value,
                                   "qty": str(event.last_filled_qty), "price": str(event.last_filled_price),
                                   "maker": event.maker, "fee": str(event.commission),
                                   "realized": str(event.realized_pnl)})
            elif o.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED) and o.client_order_id not in self.in_flight:
                self.core.forget(o.client_order_id, o.status.value.lower())
        elif isinstance(event, AccountUpdate):
            for p in event.positions:
                if p.symbol == self.symbol:
                    self.core.position_update(p.amount, self.now_ms())
        elif isinstance(event, StreamResynced):
            self.core.position_update(sum((p.amount for p in event.positions if p.symbol == self.symbol),
                                          Decimal(0)), self.now_ms())

    # ------------------------------------------------------------------ views
    def status(self) -> dict[str, Any]:
        now = self.now_ms()
        pos = self.core.position
        return {
            "server": self.server, "instance": self.instance, "symbol": self.symbol, "mode": self.core.mode,
            "stop_reason": self.core.stop_reason, "position": str(pos), "mark": str(self.mark),
            "notional": f"{abs(pos) * self.mark:.2f}", "max_usd": str(self.core.max_usd),
            "open_makers": [{"client_id": m.client_id, "side": m.side, "qty": str(m.qty), "left": str(m.left),
                             "price": str(m.price), "age_s": round((now - m.placed_ms) / 1000, 2),
                             "expires_in_s": round((m.expires_ms - now) / 1000, 2)}
                            for m in self.core.makers.values()],
            "recent_fills": list(self.fills)[-20:], "realized_pnl": str(self.realized - self.fees),
            "fees": str(self.fees), "last_instruction_age_s": self.core.last_instruction_age_s(now),
            "venue_error": self.venue_error, "time_ms": now,
        }


def app_for(service: ExecutorService) -> Starlette:
    """The HTTP face of one executor."""

    async def instruction(request: Request) -> JSONResponse:
        code, out = await service.handle(await request.body(), dict(request.headers))
        return JSONResponse(out, status_code=code)

    async def health(request: Request) -> JSONResponse:
        ok = service.core.mode in ("waiting", "active", "silent") and not service.venue_error
        return JSONResponse({"ok": ok, "server": service.server, "mode": service.core.mode,
                             "venue_error": service.venue_error}, status_code=200 if ok else 503)

    async def status(request: Request) -> JSONResponse:
        return JSONResponse(service.status())

    async def stats(request: Request) -> JSONResponse:
        if service.stats_fn is None:
            return JSONResponse({"error": "no statistics here"}, status_code=404)
        try:
            hours = float(request.query_params.get("hours", "2"))
        except ValueError:
            return JSONResponse({"error": "hours: a number"}, status_code=400)
        return JSONResponse(await service.stats_fn(hours))

    async def control(request: Request, action: str) -> JSONResponse:
        body = await request.body()
        host = request.client.host if request.client else ""
        ts, sig = request.headers.get(TS_HEADER.lower()), request.headers.get(SIG_HEADER.lower())
        if service.verifier.secret or ts or host not in LOOPBACK:
            try:
                service.verifier.check(body, ts, sig, f"{action}:{ts}:{uuid.uuid4().hex if not sig else sig}",
                                       service.now_ms())
            except SignatureError as exc:
                return JSONResponse({"ok": False, "error": str(exc)}, status_code=401)
        if action == "reset":
            service.core.reset()
            service.journal.write(service.now_ms(), "reset")
            return JSONResponse({"ok": True, "mode": service.core.mode})
        return JSONResponse(await service.emergency_stop("emergency stop requested"))

    async def emergency(request: Request) -> JSONResponse:
        return await control(request, "emergency_stop")

    async def reset(request: Request) -> JSONResponse:
        return await control(request, "reset")

    return Starlette(routes=[
        Route("/instruction", instruction, methods=["POST"]), Route("/health", health),
        Route("/status", status), Route("/stats", stats), Route("/emergency_stop", emergency, methods=["POST"]),
        Route("/reset", reset, methods=["POST"]),
    ])
