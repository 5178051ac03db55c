"""The coordinator: market data in, signed instructions to the executors out, every `decision_interval`.

    mraster maker coordinator --strategy cycle

Each round: a signed heartbeat to each executor (so they keep trading), its status (position, resting
maker orders, health), the book from the kernel's live market cache, then `logic.decide`. Takers and
cancels go at once; each maker instruction after its random delay (up to `signal_delay_max`). The
phase survives a restart (state file); the dashboard reads the status file.
"""
from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import deque
from dataclasses import asdict, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import httpx

from mraster.domain.ownership import OrderIds
from mraster.domain.signed import headers
from mraster.logs import get_logger
from mraster.storage.atomic import read_json_checked, write_json_atomic

from maker.logic import SERVERS, Book, Cancel, CycleState, Decision, ExecView, Instruction, Maker, Params, Resting, \
    decide
from maker.protocol import Instruction as Wire

log = get_logger("maker.coordinator")
STATS_EVERY_S = 30.0
STATS_HOURS = (2, 6, 24)


def to_wire(ins: Instruction) -> Wire:
    ident = uuid.uuid4().hex
    if isinstance(ins, Maker):
        return Wire(ident, "maker", ins.client_id, ins.side, ins.qty, ins.price, ins.expire_s)
    if isinstance(ins, Cancel):
        return Wire(ident, "cancel", ins.client_id)
    return Wire(ident, "taker", ins.client_id, ins.side, ins.qty, reduce_only=ins.reduce_only)


def view_of(server: str, status: dict[str, Any] | None, max_usd: Decimal) -> ExecView | None:
    if status is None:
        return None
    resting = tuple(Resting(m["client_id"], m["side"], Decimal(m["left"]), Decimal(m["price"]), float(m["age_s"]))
                    for m in status.get("open_makers", []))
    healthy = status.get("mode") == "active" and not status.get("venue_error")
    return ExecView(server, Decimal(status["position"]), max_usd, resting, healthy)


class Coordinator:
    def __init__(self, *, instance: str, urls: dict[str, str], secret: str, params: Callable[[], Params],
                 max_usd: Callable[[str], Decimal], book: Callable[[], Book | None], interval: Callable[[], float],
                 status_path: Path, state_path: Path, seed: int | None = None,
                 clock: Callable[[], float] = time.time, http: httpx.AsyncClient | None = None):
        self.instance, self.urls, self.secret = instance, urls, secret
        self.params, self.max_usd, self.book, self.interval = params, max_usd, book, interval
        self.status_path, self.state_path = Path(status_path), Path(state_path)
        self.rng = random.Random(seed)
        self.clock = clock
        self.http = http or httpx.AsyncClient(timeout=2.0)
        self.ids = OrderIds(instance)
        self.state = self._load_state()
        self.last: Decision | None = None
        self.statuses: dict[str, dict[str, Any] | None] = {s: None for s in SERVERS}
        self.known: dict[str, dict[str, Any]] = {}
        self.sent: deque[dict[str, Any]] = deque(maxlen=50)
        self.stats: dict[str, Any] = {}
        self._stats_at = 0.0
        self._pending: set[asyncio.Task[None]] = set()
        self.rounds = 0

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _load_state(self) -> CycleState:
        try:
            data = read_json_checked(self.state_path)
        except Exception as exc:        # corrupt: moved aside by the reader; start at phase 1
            log.warning("maker.state", f"state file unreadable ({exc}); starting at phase 1")
            data = None
        if not isinstance(data, dict):
            return CycleState(1, self.now_ms(), 0)
        return CycleState(int(data.get("phase", 1)), int(data.get("since_ms", self.now_ms())), int(data.get("turns", 0)))

    # ------------------------------------------------------------------ executor calls
    async def send(self, server: str, wire: Wire) -> dict[str, Any]:
        body = wire.body()
        try:
            resp = await self.http.post(f"{self.urls[server]}/instruction", content=body,
                                        headers={**headers(self.secret, self.now_ms(), body),
                                                 "Content-Type": "application/json"})
            out: dict[str, Any] = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            out = {"ok": False, "error": f"executor {server} unreachable: {exc}"}
        if wire.action != "heartbeat":
            self.sent.append({"t": self.now_ms(), "server": server, **wire.to_json(), "result": out})
        return out

    async def _status(self, server: str) -> dict[str, Any] | None:
        beat = await self.send(server, Wire(uuid.uuid4().hex, "heartbeat"))
        if not beat.get("ok") and "unreachable" in str(beat.get("error", "")):
            return None
        try:
            resp = await self.http.get(f"{self.urls[server]}/status")
            data: dict[str, Any] = resp.json()
            return data
        except (httpx.HTTPError, ValueError):
            return None

    async def _delayed(self, server: str, wire: Wire, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.send(server, wire)

    # ------------------------------------------------------------------ one round
    async def round(self) -> Decision:
        got = await asyncio.gather(*(self._status(s) for s in SERVERS))
        self.statuses = dict(zip(SERVERS, got))
        for s, st in self.statuses.items():
            if st is not None:
                self.known[s] = st
        params = self.params()
        views = {s: view_of(s, st, self.max_usd(s)) for s, st in self.statuses.items()}
        for s, st in self.statuses.items():      # unreachable: its last known position, not traded through
            if st is None and s in self.known:
                last = view_of(s, self.known[s], self.max_usd(s))
                views[s] = None if last is None else replace(last, healthy=False)
        decision = decide(self.state, self.book(), views, params, self.now_ms(),
                          lambda: self.rng.uniform(0.0, params.delay_max_s), self.ids)
        if decision.state != self.state:
            log.info("maker.phase", f"phase {self.state.phase} -> {decision.state.phase}",
                     phase=decision.state.phase, turns=decision.state.turns)
            write_json_atomic(self.state_path, asdict(decision.state))
        self.state, self.last = decision.state, decision
        now_ins = [i for i in decision.instructions if not isinstance(i, Maker)]
        await asyncio.gather(*(self.send(i.server, to_wire(i)) for i in now_ins))
        for ins in decision.instructions:
            if isinstance(ins, Maker):
                task = asyncio.create_task(self._delayed(ins.server, to_wire(ins), ins.delay_s))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
        self.rounds += 1
        return decision

    async def refresh_stats(self) -> None:
        out: dict[str, Any] = {}
        for hours in STATS_HOURS:
            per: dict[str, Any] = {}
            for server in SERVERS:
                try:
                    resp = await self.http.get(f"{self.urls[server]}/stats", params={"hours": hours}, timeout=10.0)
                    per[server] = resp.json() if resp.status_code == 200 else None
                except (httpx.HTTPError, ValueError):
                    per[server] = None
            out[str(hours)] = per
        self.stats = out

    def write_status(self) -> None:
        d, now = self.last, self.now_ms()
        write_json_atomic(self.status_path, {
            "instance": self.instance, "kind": "maker", "pid": _pid(), "updated_ms": now,
            "strategy": self.params().strategy, "phase": self.state.phase, "phase_since_ms": self.state.since_ms,
            "time_in_phase_s": round((now - self.state.since_ms) / 1000, 1), "turns": self.state.turns,
            "mode": d.mode if d else "starting", "reason": d.reason if d else "",
            "targets": {k: str(v) for k, v in (d.targets if d else {}).items()},
            "net": str(d.net) if d else "0", "cap": str(d.cap) if d else "0",
            "book": asdict(b) if (b := self.book()) else None,
            "executors": {s: {"url": self.urls[s], "reachable": st is not None, "status": st}
                          for s, st in self.statuses.items()},
            "recent_instructions": list(self.sent)[-20:], "stats": self.stats, "rounds": self.rounds,
        })

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self.round()
                if time.monotonic() - self._stats_at > STATS_EVERY_S:
                    self._stats_at = time.monotonic()
                    await self.refresh_stats()
                self.write_status()
            except Exception as exc:      # the loop must survive one bad round
                log.exception("maker.round", f"decision round failed: {exc}")
            wait = max(0.0, self.interval() - (time.monotonic() - started))
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
            except asyncio.TimeoutError:
                pass
        for task in list(self._pending):
            task.cancel()
        await self.http.aclose()


def _pid() -> int:
    import os
    return os.getpid()
