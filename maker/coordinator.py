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

from maker.logic import (
    SERVERS, Book, Cancel, CycleState, Decision, ExecView, Instruction, Maker, Params, Resting, Taker, decide, max_qty,
    rebalance,
)
from maker.protocol import Instruction as Wire

log = get_logger("maker.coordinator")
STATS_EVERY_S = 60.0
WATCH_S = 0.25          # exposure watch between decision rounds
SETTLE_S = 0.6          # after a taker, positions settle before another one may be sent
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
                 clock: Callable[[], float] = time.time, http: httpx.AsyncClient | None = None,
                 claims: tuple[tuple[str, str, str], ...] = (), account: str = ""):
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
        self._taker_at = 0.0              # monotonic time of the last taker sent
        self._watching = False
        self.rounds = 0
        self.claims, self.account = claims, account      # (account, symbol, side) the maker holds or enters

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
        now_ins = [i for i in decision.instructions if not isinstance(i, Maker)
                   and not (isinstance(i, Taker) and self._settling())]
        if any(isinstance(i, Taker) for i in now_ins):
            self._taker_at = time.monotonic()
        await asyncio.gather(*(self.send(i.server, to_wire(i)) for i in now_ins))
        for ins in decision.instructions:
            if isinstance(ins, Maker):
                task = asyncio.create_task(self._delayed(ins.server, to_wire(ins), ins.delay_s))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
        self.rounds += 1
        return decision

    def _settling(self) -> bool:
        """A taker was sent less than SETTLE_S ago: positions may not show it yet, so no second one."""
        return time.monotonic() - self._taker_at < SETTLE_S

    async def watch(self) -> None:
        """Between rounds: read positions every WATCH_S and send a rebalancing taker at once when the net
        exposure is over the cap (the decision round would wait up to a whole interval)."""
        if self.last is None or not self.last.targets or self._settling() or self._watching:
            return
        self._watching = True
        try:
            got = await asyncio.gather(*(self._get_status(s) for s in SERVERS))
            views = {s: view_of(s, st, self.max_usd(s)) for s, st in zip(SERVERS, got)}
            if any(v is None for v in views.values()):
                return
            known = {s: v for s, v in views.items() if v is not None}
            book = self.book()
            if book is None or self._settling():
                return
            limits = {n: max_qty(v.max_usd, book.mid, book.lot) for n, v in known.items()}
            takers = rebalance(known, self.last.targets, limits, self.params(), book, self.ids)
            if takers:
                self._taker_at = time.monotonic()
                await asyncio.gather(*(self.send(t.server, to_wire(t)) for t in takers))
        finally:
            self._watching = False

    async def _get_status(self, server: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = (await self.http.get(f"{self.urls[server]}/status")).json()
            return data
        except (httpx.HTTPError, ValueError):
            return None

    async def refresh_stats(self) -> None:
        """The executors' statistics for 2 h, 6 h and 24 h (for the dashboard), asked one at a time so the
        executors' venue reads stay light; decisions go on meanwhile."""
        out: dict[str, Any] = {}
        for hours in STATS_HOURS:
            per: dict[str, Any] = {}
            for server in SERVERS:
                try:
                    resp = await self.http.get(f"{self.urls[server]}/stats", params={"hours": hours}, timeout=30.0)
                    per[server] = resp.json() if resp.status_code == 200 else None
                except (httpx.HTTPError, ValueError):
                    per[server] = None
            out[str(hours)] = per
        self.stats = out

    def write_status(self) -> None:
        d, now = self.last, self.now_ms()
        write_json_atomic(self.status_path, {
            "instance": self.instance, "kind": "maker", "pid": _pid(), "updated_ms": now, "updated_wall_ms": now,
            "account": self.account,     # claims in mraster/engines/owners.py's form: other engines and the guard
            "positions": [{"account": a, "symbol": s, "position_side": ps} for a, s, ps in self.claims],
            "strategy": self.params().strategy, "phase": self.state.phase, "phase_since_ms": self.state.since_ms,
            "time_in_phase_s": round((now - self.state.since_ms) / 1000, 1), "turns": self.state.turns,
            "mode": d.mode if d else "starting", "reason": d.reason if d else "",
            "targets": {k: str(v) for k, v in (d.targets if d else {}).items()},
            "net": str(d.net) if d else "0", "cap": str(d.cap) if d else "0",
            "book": asdict(b) if (b := self.book()) else None,
            "executors": {s: {"url": self.urls[s], "reachable": st is not None, "status": st}
                          for s, st in self.statuses.items()},
            "recent_instructions": list(self.sent)[-20:], "stats": self.stats, "rounds": self.rounds,
            "params": {**asdict(self.params()), "decision_interval": self.interval(),
                       "max_usd": {s: str(self.max_usd(s)) for s in SERVERS}},
        })

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self.round()
                if time.monotonic() - self._stats_at > STATS_EVERY_S:
                    self._stats_at = time.monotonic()     # in the background: a round never waits for it
                    task = asyncio.create_task(self.refresh_stats())
                    self._pending.add(task)
                    task.add_done_callback(self._pending.discard)
                self.write_status()
            except Exception as exc:      # the loop must survive one bad round
                log.exception("maker.round", f"decision round failed: {exc}")
            while not stop.is_set():
                left = self.interval() - (time.monotonic() - started)
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for(stop.wait(), timeout=min(left, WATCH_S))
                except asyncio.TimeoutError:
                    pass
                if time.monotonic() - started < self.interval() - WATCH_S / 2:
                    try:
                        await self.watch()
                    except Exception as exc:
                        log.warning("maker.watch", f"exposure watch failed: {exc}")
        for task in list(self._pending):
            task.cancel()
        await self.http.aclose()


def _pid() -> int:
    import os
    return os.getpid()
