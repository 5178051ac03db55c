"""Issue 12 item 14: the guard runs for weeks. Its maps of expected echoes, refusals, ATRs and sentences
said once stay bounded, and writing the status file (fsync) never blocks the event loop."""
from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal
from pathlib import Path

import guard.service as service_module
from mraster.domain.types import OrderRequest, OrderType, Side
from guard.executor import ECHO_TTL_S, ECHOES_MAX, Executor
from guard.reconcile import ATR_MAX, SAID_MAX, Reconciler
from guard.service import GuardService

D = Decimal


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def test_expected_echoes_expire_without_any_event_and_never_exceed_the_cap(fake):
    """With no user stream (no events), expectations used to pile up forever: one per placement."""
    fake.set_position("BTCUSDT", "0.5", "30000", mark="30000")
    clock = Clock()
    ex = Executor(fake, monotonic=clock)
    for n in range(ECHOES_MAX + 500):
        ex._expect(f"cid:mr-BTCUSDT.x{n}-SL", "NEW")
    assert len(ex._echoes) == ECHOES_MAX
    clock.t += ECHO_TTL_S + 1
    await ex._send(OrderRequest("BTCUSDT", Side.SELL, OrderType.STOP_MARKET, "mr-BTCUSDT.a-SL",
                                stop_price=D("29000"), close_position=True))
    assert len(ex._echoes) == 1, "expired expectations are dropped when a new one is added"


def test_atr_and_said_once_memories_are_bounded(fake, settings):
    r = Reconciler(fake, settings, state_path=Path(settings.state_file), executor=Executor(fake))
    said = []
    for n in range(SAID_MAX + 100):
        r._once(f"key-{n}", said.append)
    assert len(said) == SAID_MAX + 100 and len(r._said) == SAID_MAX
    for n in range(ATR_MAX + 50):
        r._atr[("BTCUSDT", "BOTH", D(n))] = 1.0
    assert len(r._atr) == ATR_MAX


async def test_status_file_is_written_off_the_event_loop(fake, settings, monkeypatch):
    """A disk that takes 300 ms per fsync: the loop keeps ticking every few milliseconds meanwhile."""
    writers: list[int] = []
    real = service_module.write_json_atomic

    def slow_write(path, data):
        writers.append(threading.get_ident())
        time.sleep(0.3)                       # the slow disk (in the writer's thread)
        real(path, data)

    monkeypatch.setattr(service_module, "write_json_atomic", slow_write)
    svc = GuardService(fake, settings, mode="paper", state_path=settings.state_file,
                       status_path=Path(settings.run_dir) / "guard_status.json")
    gaps: list[float] = []

    async def ticker():
        last = time.monotonic()
        for _ in range(40):
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    await asyncio.gather(svc._write_status(), ticker())
    assert writers and writers[0] != threading.get_ident()
    assert max(gaps) < 0.2, f"the loop stalled {max(gaps):.3f} s"
    assert (Path(settings.run_dir) / "guard_status.json").exists()
