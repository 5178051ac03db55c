"""`mraster trial --engine maker`: the cycle maker under faults, on the paper exchange, with its invariants.

Processes are started as a user starts them (`mraster maker executor|coordinator`), the coordinator
talking to each executor through a relay the trial can cut. A seeded schedule cuts the network to B
(longer than the executors' timeout) and to C (shorter), SIGKILLs executor C and the coordinator and
starts them again, makes the venue answer errors and lose order acknowledgements, and makes the price
jump. Then both executors get an emergency stop, and the statistics are checked against the venue.
Report and exit code like `mraster trial` (0 held, 1 violated, 3 a planned fault could not be done).
"""
from __future__ import annotations

import asyncio
import json
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import httpx

from mraster.childproc import ChildProcess, clean_environ
from mraster.domain.signed import headers
from mraster.exchange.client import BinanceCompatibleClient
from trial.maker import invariants as inv
from trial.maker.proxy import CuttableProxy
from trial.maker.venue import TrialVenue

SYMBOL, INSTANCE, SECRET = "BTCUSDT", "maker", "maker-trial-secret"
KEYS = {"B": "paper-b", "C": "paper-c"}


@dataclass(frozen=True)
class MakerTrialParams:
    seconds: float = 150.0
    seed: int = 19
    decision_interval: float = 1.0
    expire_s: float = 5.0
    timeout_s: float = 3.0
    max_usd: float = 600.0
    step: str = "0.002"
    ratio: str = "0.04"
    poll_s: float = 0.25
    stop_limit_s: float = 5.0
    round_trip_s: float = 1.0
    countdown_s: float = 3.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MakerTrial:
    def __init__(self, params: MakerTrialParams, out: Path):
        self.p, self.out = params, out
        self.rng = random.Random(params.seed)
        self.events: list[dict[str, Any]] = []
        self.children: dict[str, ChildProcess] = {}
        self.ports = {"B": _free_port(), "C": _free_port()}
        self.proxies: dict[str, CuttableProxy] = {}
        self.px: TrialVenue | None = None
        self.env: dict[str, str] = {}
        self.missed: list[str] = []

    # ------------------------------------------------------------------ processes
    def _env(self, px: TrialVenue) -> dict[str, str]:
        p = self.p
        env = {**px.env(), "ASTER_ACCOUNTS": "A,B,C", "ASTER_CONFIG_FILE": str(self.out / "dashboard_config.json"),
               "ASTER_DOTENV_FILE": str(self.out / ".env"), "ASTER_RUN_DIR": str(self.out / "run"),
               "ASTER_LOG_DIR": str(self.out / "logs"), "PYTHONUNBUFFERED": "1", "MAKER_HMAC_SECRET": SECRET}
        for server, port in self.ports.items():
            env[f"SERVER_{server}_URL"] = f"http://127.0.0.1:{port}"
        settings = {"decision_interval": p.decision_interval, "signal_delay_max": p.decision_interval / 2,
                    "maker_expire_seconds": p.expire_s, "coordinator_timeout": p.timeout_s,
                    "MAX_POSITION_B_USD": p.max_usd, "MAX_POSITION_C_USD": p.max_usd, "maker_step_btc": p.step,
                    "net_exposure_ratio": p.ratio, "venue_countdown_s": p.countdown_s}
        env.update({f"MRASTER_{INSTANCE.upper()}__{k}": str(v) for k, v in settings.items()})
        return clean_environ(env)

    def start(self, name: str) -> None:
        base = [sys.executable, "-m", "commands.main", "maker"]
        if name == "coordinator":
            cmd = [*base, "coordinator", "--seed", str(self.p.seed), "--server-b", self.proxies["B"].url,
                   "--server-c", self.proxies["C"].url]
        else:
            cmd = [*base, "executor", "--account", name, "--port", str(self.ports[name])]
        child = ChildProcess(cmd, self.out, self.env, self.out / f"{name}.{len(self.events)}.out")
        child.start()
        self.children[name] = child

    async def wait_up(self, server: str, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1.0) as http:
            while time.monotonic() < deadline:
                try:
                    await http.get(f"http://127.0.0.1:{self.ports[server]}/health")
                    return True
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
        return False

    def note(self, venue_ms: int, what: str, **kw: Any) -> None:
        self.events.append({"t": venue_ms, "event": what, **kw})

    # ------------------------------------------------------------------ the run
    async def run(self) -> dict[str, Any]:
        p = self.p
        self.out.mkdir(parents=True, exist_ok=True)
        px = self.px = TrialVenue(self.out / "paper", SYMBOL, p.seed).start()
        try:
            self.env = self._env(px)
            for s in ("B", "C"):
                self.proxies[s] = await CuttableProxy(self.ports[s]).start()
            return await self._run(px)
        finally:
            for child in self.children.values():
                child.stop(10.0)
            for proxy in self.proxies.values():
                await proxy.close()
            px.stop()

    async def _run(self, px: TrialVenue) -> dict[str, Any]:
        p = self.p
        step, ratio = Decimal(p.step), Decimal(p.ratio)
        exposure = inv.ExposureTracker(ratio, step, p.decision_interval + p.round_trip_s + p.poll_s)
        expiry = inv.ExpiryTracker(INSTANCE, p.expire_s, p.countdown_s)
        self.expiry = expiry
        silence = inv.SilenceTracker(p.timeout_s)
        excused: dict[str, list[tuple[int, int]]] = {"paused": [], "degraded": []}
        for s in ("B", "C"):
            self.start(s)
            if not await self.wait_up(s):
                raise RuntimeError(f"executor {s} did not start:\n{self.children[s].tail()}")
        self.start("coordinator")
        async with httpx.AsyncClient(timeout=5.0) as http:
            snap = await self._snapshot(http)
            t0 = snap.venue_ms
            plan = self._plan()
            done: set[int] = set()
            while True:
                snap = await self._snapshot(http)
                for tracker in (exposure, expiry, silence):
                    tracker.observe(snap)
                elapsed = (snap.venue_ms - t0) / 1000.0
                for i, (at, name, action) in enumerate(plan):
                    if i not in done and elapsed >= at:
                        done.add(i)
                        await action(snap.venue_ms, silence, excused)
                        self.note(snap.venue_ms, name)
                if elapsed >= p.seconds and len(done) == len(plan):
                    break
                await asyncio.sleep(p.poll_s)
            stop_result = await self._emergency_stop(http)
        limits, stats_diff = await self._after()
        return self._verdict(exposure, expiry, silence, excused, stop_result, limits, stats_diff)

    async def _snapshot(self, http: httpx.AsyncClient) -> inv.Snapshot:
        assert self.px is not None
        data = (await http.get(f"{self.px.url}/admin/state")).json()
        positions, orders = {}, {}
        for s, key in KEYS.items():
            acct = data["accounts"].get(key) or {"positions": [], "open_orders": []}
            positions[s] = sum((Decimal(x["amount"]) for x in acct["positions"] if x["symbol"] == SYMBOL), Decimal(0))
            orders[s] = list(acct["open_orders"])
        return inv.Snapshot(int(data["venue"]["venue_time"]), positions, orders)

    # ------------------------------------------------------------------ faults
    def _plan(self) -> list[tuple[float, str, Callable[..., Any]]]:
        p, j = self.p, lambda: self.rng.uniform(0, 3)
        cut_b = p.timeout_s * 2 + 2
        return sorted([
            (20 + j(), "network cut coordinator-B", lambda t, sil, ex: self._cut("B", t, cut_b, sil, ex)),
            (45 + j(), "SIGKILL executor C, restart 4 s later", lambda t, sil, ex: self._kill_executor("C", t, ex)),
            (60 + j(), "venue errors (30 % of requests, 5 s)", lambda t, sil, ex: self._errors()),
            (70 + j(), "venue loses 2 order acknowledgements", lambda t, sil, ex: self._lose()),
            (80 + j(), "SIGKILL coordinator, restart after timeout + 3 s",
             lambda t, sil, ex: self._kill_coordinator(t, sil, ex)),
            (105 + j(), "price jump +1.5 % for 5 s", lambda t, sil, ex: self._jump()),
            (125 + j(), "short network cut coordinator-C (1.5 s)",
             lambda t, sil, ex: self._cut("C", t, 1.5, None, ex)),
        ], key=lambda x: x[0])

    async def _cut(self, server: str, t: int, seconds: float, silence: inv.SilenceTracker | None,
                   excused: dict[str, list[tuple[int, int]]]) -> None:
        self.proxies[server].set_cut(True)
        if silence is not None:
            silence.open(server, t, "network cut")

        async def restore() -> None:
            await asyncio.sleep(seconds)
            self.proxies[server].set_cut(False)
            end = self._now_ms()
            if silence is not None:
                silence.close(server, end)
            excused["degraded"].append((t, end))
        asyncio.create_task(restore())

    async def _kill_executor(self, server: str, t: int, excused: dict[str, list[tuple[int, int]]]) -> None:
        self.children[server].kill()
        self.expiry.killed(server, t)

        async def again() -> None:
            await asyncio.sleep(4.0)
            self.start(server)
            if not await self.wait_up(server):
                self.missed.append(f"executor {server} did not come back")
            excused["degraded"].append((t, self._now_ms()))
        asyncio.create_task(again())

    async def _kill_coordinator(self, t: int, silence: inv.SilenceTracker,
                                excused: dict[str, list[tuple[int, int]]]) -> None:
        self.children["coordinator"].kill()
        for s in ("B", "C"):
            silence.open(s, t, "coordinator killed")

        async def again() -> None:
            await asyncio.sleep(self.p.timeout_s + 3.0)
            end = self._now_ms()
            for s in ("B", "C"):
                silence.close(s, end)
            self.start("coordinator")
            first = await self._first_round(end)            # the coordinator is back once it has decided again
            if first is None:
                self.missed.append("the coordinator did not come back")
                first = self._now_ms()
            excused["paused"].append((t, first))
        asyncio.create_task(again())

    async def _errors(self) -> None:
        assert self.px is not None
        self.px.admin("POST", "/faults", error_rate=0.3)

        async def clear() -> None:
            await asyncio.sleep(5.0)
            self.px.admin("DELETE", "/faults") if self.px else None
        asyncio.create_task(clear())

    async def _lose(self) -> None:
        assert self.px is not None
        self.px.admin("POST", "/faults", lose_order_response=2)

    async def _jump(self) -> None:
        assert self.px is not None
        last = Decimal(self.px.admin("GET", "/state")["markets"][SYMBOL]["last"])
        self.px.admin("POST", "/price", symbol=SYMBOL, price=str((last * Decimal("1.015")).quantize(Decimal("0.1"))))

        async def release() -> None:
            await asyncio.sleep(5.0)
            self.px.admin("DELETE", "/price", symbol=SYMBOL) if self.px else None
        asyncio.create_task(release())

    def _now_ms(self) -> int:
        return int(time.time() * 1000)     # speed 1: the paper venue's clock is the wall clock

    async def _first_round(self, after_ms: int, timeout: float = 30.0) -> int | None:
        path = self.out / "run" / f"{INSTANCE}.status.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                updated = int(json.loads(path.read_text())["updated_ms"])
                if updated > after_ms:
                    return updated
            except (OSError, ValueError, KeyError):
                pass
            await asyncio.sleep(0.1)
        return None

    # ------------------------------------------------------------------ the end
    async def _emergency_stop(self, http: httpx.AsyncClient) -> dict[str, Any]:
        self.children["coordinator"].stop(10.0)
        started = time.monotonic()
        answers = {}
        for s in ("B", "C"):
            body = b'{"by":"trial"}'
            resp = await http.post(f"http://127.0.0.1:{self.ports[s]}/emergency_stop", content=body,
                                   headers=headers(SECRET, int(time.time() * 1000), body), timeout=30.0)
            answers[s] = resp.status_code
        while time.monotonic() - started < self.p.stop_limit_s * 3:
            snap = await self._snapshot(http)
            if all(v == 0 for v in snap.positions.values()) and not any(snap.orders.values()):
                return {"seconds": round(time.monotonic() - started, 2), "answers": answers, "flat": True}
            await asyncio.sleep(0.1)
        return {"seconds": None, "answers": answers, "flat": False, "left": snap.positions}

    async def _after(self) -> tuple[list[str], list[str]]:
        assert self.px is not None
        limits, diffs = [], []
        out = subprocess.run([sys.executable, "-m", "commands.main", "maker", "stats", "--json", "--hours", "1"],
                             cwd=self.out, env=self.env, capture_output=True, text=True, timeout=120)
        stats = {r["server"]: r for r in json.loads(out.stdout)} if out.returncode == 0 else {}
        if not stats:
            diffs.append(f"mraster maker stats failed: {out.stderr.strip()[-500:]}")
        for s, key in KEYS.items():
            client = BinanceCompatibleClient(self.px.url, self.px.ws_url, key, "paper-secret")
            try:
                trades = await client.user_trades(SYMBOL, limit=1000)
                income = await client.income(SYMBOL, "FUNDING_FEE", limit=1000)
            finally:
                await client.close()
            limits += inv.limit_violations(s, trades, Decimal(str(self.p.max_usd)))
            journal = [json.loads(line) for line in (self.out / "run" / f"{INSTANCE}.{s}.journal.jsonl")
                       .read_text().splitlines() if line.strip()]
            r = inv.recount(trades, sum((i.income for i in income), Decimal(0)), journal, 0)
            if s in stats:
                diffs += inv.stats_differences(s, stats[s], r)
        return limits, diffs

    def _verdict(self, exposure: inv.ExposureTracker, expiry: inv.ExpiryTracker, silence: inv.SilenceTracker,
                 excused: dict[str, list[tuple[int, int]]], stop: dict[str, Any], limits: list[str], stats: list[str]
                 ) -> dict[str, Any]:
        p = self.p
        blind = excused["paused"] + excused["degraded"]
        strict = exposure.violations(blind)
        stop_problems = [] if stop["flat"] and stop["seconds"] is not None and stop["seconds"] <= p.stop_limit_s \
            else [f"emergency stop: {stop}"]
        invariants = [
            ("exposure", f"net exposure above the cap no longer than {exposure.limit_s:.2f} s (decision interval + "
                         "taker round trip + poll) once both legs are visible (time while a process is down or a "
                         "leg cut off is not counted: it is reported below)", strict),
            ("expiry", f"no maker order rests beyond its expiry + 1 s ({expiry.limit_s:.1f} s)", expiry.violations()),
            ("silence", "no executor trades while the coordinator is silent", silence.violations()),
            ("limits", f"no position above its maximum (${p.max_usd:g})", limits),
            ("emergency_stop", f"emergency stop: both accounts flat, no open order within {p.stop_limit_s:g} s",
             stop_problems),
            ("statistics", "statistics equal a recomputation from the venue's trades", stats),
        ]
        result = {
            "params": p.__dict__, "events": self.events, "missed": self.missed,
            "invariants": [{"name": n, "title": t, "violations": len(v), "details": v[:30]} for n, t, v in invariants],
            "exposure_episodes": len(exposure.episodes), "longest_exposure_s": round(exposure.longest_s(), 2),
            "blind_windows": blind, "blind_episodes": exposure.blind_episodes(blind), "oldest_maker_s": round(expiry.oldest_s(), 2),
            "silence_checks": silence.checked, "emergency_stop": stop, "work_dir": str(self.out),
        }
        result["passed"] = all(i["violations"] == 0 for i in result["invariants"])
        result["plan_fulfilled"] = not self.missed and len(self.events) == len(self._plan())
        (self.out / "result.json").write_text(json.dumps(result, indent=2, default=str))
        (self.out / "report.md").write_text(report(result))
        return result


def report(result: dict[str, Any]) -> str:
    lines = ["# Maker trial", "", f"Work directory: `{result['work_dir']}`", "",
             "| violations | invariant |", "| ---: | --- |"]
    lines += [f"| {i['violations']} | {i['title']} |" for i in result["invariants"]]
    lines += ["", f"- net-exposure episodes above the cap: {result['exposure_episodes']}, longest "
                  f"{result['longest_exposure_s']} s",
              f"- oldest maker order seen: {result['oldest_maker_s']} s",
              "- episodes while a leg was not visible (process down, network cut): "
              + ("; ".join(result["blind_episodes"]) or "none"),
              f"- snapshots checked inside silence windows: {result['silence_checks']}",
              f"- emergency stop: {result['emergency_stop']}", "", "## Faults", ""]
    lines += [f"- {e['event']} (venue ms {e['t']})" for e in result["events"]]
    for i in result["invariants"]:
        if i["details"]:
            lines += ["", f"## {i['name']}", ""] + [f"- {d}" for d in i["details"]]
    return "\n".join(lines) + "\n"


async def run_maker_trial(params: MakerTrialParams, out: Path) -> dict[str, Any]:
    return await MakerTrial(params, out).run()
