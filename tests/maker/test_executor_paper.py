"""The executor service on the paper exchange (real REST and user-data WebSocket), driven in-process.

Expiry, retry-then-skip, signed instructions over its handler, coordinator silence, emergency stop,
and ownership: it cancels an order of ours it does not track, never anyone else's.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from decimal import Decimal as D

import httpx
import pytest

from maker import journal as jr
from maker.executor import ExecutorService
from maker.protocol import Instruction
from mraster.domain.signed import headers
from mraster.domain.types import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from mraster.exchange.client import BinanceCompatibleClient
from mraster.exchange.errors import UnknownOrderError
from paper.testing import PaperExchange

SECRET = "executor-test-secret"


class Counting(httpx.AsyncBaseTransport):
    """Counts the requests of each path on their way to the paper exchange."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        return await self.inner.handle_async_request(request)


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("px"), symbols=("BTCUSDT",), seed=5) as ex:
        yield ex


async def eventually(cond, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await cond()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def make_service(px, tmp_path, key, *, silence_s=60.0, secret=SECRET, max_usd="5000"):
    transport = Counting()
    client = BinanceCompatibleClient(px.url, px.ws_url, key, "paper-secret", retries=2, backoff_s=0.01,
                                     transport=transport)
    svc = ExecutorService(client, server="B", instance="maker", symbol="BTCUSDT", max_usd=D(max_usd),
                          secret=secret, journal_path=tmp_path / "B.journal.jsonl", silence_s=silence_s)
    return svc, client, transport


async def send(svc, ins: Instruction, *, ts=None, secret=SECRET):
    body = ins.body()
    hdrs = {k.lower(): v for k, v in headers(secret, ts if ts is not None else svc.now_ms(), body).items()}
    return await svc.handle(body, hdrs)


def maker_ins(cid, side, qty, price, expire=None):
    return Instruction(uuid.uuid4().hex, "maker", cid, side, D(qty), D(price), expire)


def beat():
    return Instruction(uuid.uuid4().hex, "heartbeat")


async def touch(client):
    t = await client.book_ticker("BTCUSDT")
    return D(str(t.bid_price)), D(str(t.ask_price))


async def test_maker_order_is_cancelled_at_its_expiry(px, tmp_path):
    svc, client, _ = make_service(px, tmp_path, "paper-exp")
    await svc.start()
    try:
        assert (await send(svc, beat()))[0] == 200
        bid, _ = await touch(client)
        cid = "maker:B.mk.exp1"
        code, out = await send(svc, maker_ins(cid, "BUY", "0.002", str(bid - 500), expire=5))
        assert code == 200 and out["status"] == "NEW", out
        placed = time.monotonic()
        order = await eventually(lambda: _ended(client, cid), 8.0, "the expiry cancel")
        waited = time.monotonic() - placed
        assert order.status is OrderStatus.CANCELED and 4.5 <= waited <= 6.0
        evs = {r["ev"]: r["t"] for r in jr.read(tmp_path / "B.journal.jsonl") if r.get("cid") == cid}
        assert 5000 <= evs["expired"] - evs["placed"] <= 6000
    finally:
        await svc.close()
        await client.close()


async def _ended(client, cid):
    order = await client.get_order("BTCUSDT", client_order_id=cid)
    return order if not order.is_open else None


async def test_a_failing_venue_call_is_tried_three_times_then_skipped(px, tmp_path):
    svc, client, transport = make_service(px, tmp_path, "paper-skip")
    svc.core.hear(svc.now_ms())
    svc.mark = D("100000")
    cid = "maker:B.mk.skip1"
    px.admin("POST", "/faults", error_rate=1.0)
    try:
        transport.calls.clear()
        code, out = await send(svc, maker_ins(cid, "BUY", "0.002", "50000"))
    finally:
        px.admin("DELETE", "/faults")
    assert code == 200 and out["ok"] is False and out["error"].startswith("skipped")
    order_calls = [c for c in transport.calls if c[1] == "/fapi/v1/order"]
    # three attempts: the send, then a look-up by client id before each further try (each a failed 500 here);
    # an order the venue may hold is never sent twice
    assert order_calls[0] == ("POST", "/fapi/v1/order") and order_calls.count(("POST", "/fapi/v1/order")) == 1
    assert "after 3 attempts" in out["error"]
    evs = [r["ev"] for r in jr.read(tmp_path / "B.journal.jsonl") if r.get("cid") == cid]
    assert evs == ["placed", "skipped"]
    with pytest.raises(UnknownOrderError):
        await client.get_order("BTCUSDT", client_order_id=cid)
    code, out = await send(svc, maker_ins(cid, "BUY", "0.002", "50000"))
    assert code == 409 and "already used" in out["error"]                # the same id is never sent again
    await client.close()


async def test_bad_stale_and_replayed_instructions_are_refused_and_not_executed(px, tmp_path):
    svc, client, _ = make_service(px, tmp_path, "paper-hmac")
    svc.mark = D("100000")
    ins = beat()
    assert (await send(svc, ins, secret="wrong"))[0] == 401
    assert svc.core.mode == "waiting"                                   # a forged heartbeat is not hearing
    assert (await send(svc, beat(), ts=svc.now_ms() - 11_000))[0] == 401
    assert (await send(svc, ins))[0] == 200 and svc.core.mode == "active"
    code, out = await send(svc, ins)
    assert code == 401 and "replayed" in out["error"]
    taker = Instruction(uuid.uuid4().hex, "taker", "maker:B.tk.h1", "BUY", D("0.002"))
    body = taker.body()
    hdrs = {k.lower(): v for k, v in headers(SECRET, svc.now_ms(), body).items()}
    tampered = body.replace(b"0.002", b"0.020")
    code, out = await svc.handle(tampered, hdrs)
    assert code == 401 and "bad signature" in out["error"]
    assert await client.positions("BTCUSDT") == []
    await client.close()


async def test_silent_coordinator_makes_the_executor_cancel_and_wait(px, tmp_path):
    svc, client, _ = make_service(px, tmp_path, "paper-silent", silence_s=1.0)
    await svc.start()
    try:
        await send(svc, beat())
        bid, _ = await touch(client)
        cid = "maker:B.mk.sil1"
        assert (await send(svc, maker_ins(cid, "BUY", "0.002", str(bid - 500))))[0] == 200
        order = await eventually(lambda: _ended(client, cid), 5.0, "the silence cancel")
        assert order.status is OrderStatus.CANCELED and svc.core.mode == "silent"
        assert "silent" in [r["ev"] for r in jr.read(tmp_path / "B.journal.jsonl")]
        assert await client.open_orders("BTCUSDT") == []
        assert (await send(svc, beat()))[0] == 200 and svc.core.mode == "active"    # heard again: trades again
    finally:
        await svc.close()
        await client.close()


async def test_emergency_stop_flattens_cancels_and_refuses_until_reset(px, tmp_path):
    svc, client, _ = make_service(px, tmp_path, "paper-stop")
    await svc.start()
    try:
        await send(svc, beat())
        bid, _ = await touch(client)
        svc.mark = bid
        code, out = await send(svc, Instruction(uuid.uuid4().hex, "taker", "maker:B.tk.s1", "BUY", D("0.003")))
        assert code == 200 and out["status"] == "FILLED", out
        assert (await send(svc, maker_ins("maker:B.mk.s2", "BUY", "0.002", str(bid - 500))))[0] == 200
        out = await svc.emergency_stop("test")
        assert out["mode"] == "stopped"
        assert await client.positions("BTCUSDT") == [] and await client.open_orders("BTCUSDT") == []
        code, out = await send(svc, maker_ins("maker:B.mk.s3", "BUY", "0.002", str(bid - 500)))
        assert code == 409 and "emergency-stopped" in out["error"]
        svc.core.reset()
        assert (await send(svc, beat()))[0] == 200 and svc.core.mode == "active"
    finally:
        await svc.close()
        await client.close()


async def test_it_cancels_an_untracked_order_of_its_own_and_leaves_foreign_ones(px, tmp_path):
    svc, client, _ = make_service(px, tmp_path, "paper-own")
    bid, _ = await touch(client)
    far = bid - 700
    for cid in ("maker:B.mk.orphan1", "manual-order-1", "maker:C.mk.other1", "mom1:BTC.EN.x"):
        await client.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, cid, quantity=D("0.001"),
                                              price=far, time_in_force=TimeInForce.GTC))
    await svc.start()                         # start-up reconcile: a previous run's order of ours is cancelled
    try:
        left = {o.client_order_id for o in await client.open_orders("BTCUSDT")}
        assert left == {"manual-order-1", "maker:C.mk.other1", "mom1:BTC.EN.x"}
        status = svc.status()
        assert json.dumps(status) and status["mode"] == "waiting" and status["server"] == "B"
    finally:
        await svc.close()
        await client.close()


async def test_a_dead_executors_orders_are_cancelled_by_the_venues_countdown(px, tmp_path):
    svc, client, _ = make_service(px, tmp_path, "paper-dead")
    svc.countdown_ms = 3000
    await svc.start()                                     # refreshes the countdown at start and every 2 s
    await send(svc, beat())
    bid, _ = await touch(client)
    cid = "maker:B.mk.dead1"
    assert (await send(svc, maker_ins(cid, "BUY", "0.002", str(bid - 500), expire=30)))[0] == 200
    for t in svc._tasks:                                  # the process dies: no expiry, no silence, no refresh
        t.cancel()
    died = time.monotonic()
    order = await eventually(lambda: _ended(client, cid), 8.0, "the venue's countdown cancel")
    assert order.status is OrderStatus.CANCELED and time.monotonic() - died <= 4.5
    await svc.close()
    await client.close()


async def test_the_kernel_risk_gate_guards_every_order_that_adds(px, tmp_path):
    from mraster.safety.gate import RiskGate
    from mraster.safety.killswitch import account_key, fire, latch_path, reset
    from mraster.settings import load_settings
    settings = load_settings(env={"ASTER_RUN_DIR": str(tmp_path / "run"), "ASTER_PAPER": "true",
                                  "ASTER_API_KEY": "paper-gate", "ASTER_API_SECRET": "paper-secret"},
                             cwd=tmp_path).settings
    svc, client, _ = make_service(px, tmp_path, "paper-gate")
    owners = {"BTCUSDT": "maker"}
    svc.gate = RiskGate(settings, client, owner_of=lambda p: owners.get(p.symbol))
    svc.core.hear(svc.now_ms())
    bid, _ = await touch(client)
    svc.mark = bid
    assert (await send(svc, Instruction(uuid.uuid4().hex, "taker", "maker:B.tk.g1", "BUY", D("0.002"))))[0] == 200
    await svc.reconcile()
    fire(latch_path(settings), account_key(settings), "test", "margin too thin")
    code, out = await send(svc, maker_ins("maker:B.mk.g2", "BUY", "0.002", str(bid - 500)))
    assert code == 409 and "kill_switch" in out["error"]
    code, out = await send(svc, Instruction(uuid.uuid4().hex, "taker", "maker:B.tk.g3", "SELL", D("0.001")))
    assert code == 200 and out["status"] == "FILLED"                      # reducing passes a latched account
    reset(latch_path(settings), account_key(settings), "test")
    owners["BTCUSDT"] = "scan2"                                            # someone else's position now
    await svc.reconcile()
    code, out = await send(svc, maker_ins("maker:B.mk.g4", "BUY", "0.002", str(bid - 500)))
    assert code == 409 and "symbol_held" in out["error"]
    assert await client.open_orders("BTCUSDT") == []
    await client.close()
