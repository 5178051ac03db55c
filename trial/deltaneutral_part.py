"""The delta-neutral operator's part of the trial: seed 004's settings, real processes, its own faults and
three invariants of its own.

It runs on its own paper exchange (same synthetic market, speed and seed as the trial's): the trial's
venue accepts one fixed key (the bot's account, one-way mode), and a pair needs hedge mode on an account
of its own. Started as a user starts it: `python -m deltaneutral --instance dn1` in a work directory with
`engines.json`. Faults: a SIGKILL of the operator (restarted at once, as the dashboard's supervisor does;
it must adopt its pair) and a forced liquidation of the LONG leg (the venue closes a leg; the operator must
close the other).

Invariants (from /admin/state snapshots every `poll_s`):
- dn_lone_leg: no leg alone (the other missing) for more than `lone_leg_limit_s`;
- dn_net_delta: with both legs held, |long - short| x mark within MAX_PNL_DRIFT_PCT of a leg's notional
  (beyond it for at most `grace_s`, the time a trim takes);
- dn_one_pair: no leg ever larger than one pair's size (a second pair opened by mistake would be).
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from mraster.childproc import ChildProcess, clean_environ
from mraster.tradedb import TradeDB
from trial.invariants import EpisodeTracker
from trial.workdir import free_port

INSTANCE = "dn1"
PAPER_KEY = "paper-key"                 # the paper exchange's public default pair: no secret here
SYMBOL = "BTCUSDT"
LONE, DELTA, ONE_PAIR = "dn_lone_leg", "dn_net_delta", "dn_one_pair"
NAMES = (LONE, DELTA, ONE_PAIR)          # titles: trial/results.py
LONE_LEG_LIMIT_S = 5.0
SETTINGS = {"CAPITAL_USDT": 1000, "LEVERAGE": 15, "TRADING_PAIRS": [SYMBOL], "POSITION_HOLD_TIME_MIN": 90,
            "MAX_POSITION_SIZE_PCT": 1.5, "DAILY_VOLUME_TARGET": 15000, "STOP_LOSS_PCT": 1.0,
            "MAX_PNL_DRIFT_PCT": 0.8, "LEG_CHECK_SEC": 0.5}


def legs_of(snap: dict[str, Any]) -> dict[str, tuple[Decimal, Decimal]]:
    """{LONG|SHORT: (|amount|, entry price)} of the operator's symbol in an /admin/state snapshot."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for acct in snap.get("accounts", {}).values():
        for p in acct.get("positions", []):
            amount = Decimal(p["amount"])
            if p["symbol"] == SYMBOL and amount != 0 and p["positionSide"] in ("LONG", "SHORT"):
                out[p["positionSide"]] = (abs(amount), Decimal(p["entryPrice"]))
    return out


def judge(snap: dict[str, Any], max_leg_notional: Decimal, drift_pct: Decimal) -> dict[str, dict[tuple, str]]:
    """The active episodes of each invariant in one snapshot (pure)."""
    legs = legs_of(snap)
    mark = Decimal(str(snap.get("markets", {}).get(SYMBOL, {}).get("mark") or 0))
    out: dict[str, dict[tuple, str]] = {LONE: {}, DELTA: {}, ONE_PAIR: {}}
    if len(legs) == 1:
        side, (qty, _) = next(iter(legs.items()))
        out[LONE][(side,)] = f"{side} {qty} alone"
    if len(legs) == 2 and mark > 0:
        (lq, le), (sq, se) = legs["LONG"], legs["SHORT"]
        base = max(lq * le, sq * se)
        if base > 0 and abs(lq - sq) * mark / base * 100 > drift_pct:
            out[DELTA][("delta",)] = f"LONG {lq} / SHORT {sq}"
    for side, (qty, entry) in legs.items():
        if qty * entry > max_leg_notional * Decimal("1.001"):
            out[ONE_PAIR][(side,)] = f"{side} {qty} at {entry}: {qty * entry:.2f} > one leg's {max_leg_notional}"
    return out


class OperatorPart:
    def __init__(self, root: Path, speed: float, paper_seed: int, market_ms: int, poll_s: float = 0.2,
                 lone_leg_limit_s: float = LONE_LEG_LIMIT_S, grace_s: float = 3.0):
        self.dir = root / "operator"
        self.speed, self.paper_seed, self.market_ms, self.poll_s = speed, paper_seed, market_ms, poll_s
        self.lone_limit = lone_leg_limit_s
        self.port = free_port()
        self.trackers = {LONE: EpisodeTracker(lone_leg_limit_s), DELTA: EpisodeTracker(grace_s),
                         ONE_PAIR: EpisodeTracker(0.0)}
        self.max_leg = Decimal(SETTINGS["CAPITAL_USDT"]) * Decimal("1.5") / 100 * SETTINGS["LEVERAGE"]
        self.drift = Decimal(str(SETTINGS["MAX_PNL_DRIFT_PCT"]))
        self.latest: dict[str, Any] = {}
        self.polls = 0
        self.faults: list[dict[str, Any]] = []
        self.paper: ChildProcess | None = None
        self.operator: ChildProcess | None = None
        self._http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=10.0,
                                       headers={"X-MBX-APIKEY": PAPER_KEY})
        self._stop = asyncio.Event()

    # ------------------------------------------------------------------ processes
    def _env(self) -> dict[str, str]:
        return clean_environ({"ASTER_CONFIG_FILE": str(self.dir / "dashboard_config.json"),
                              "ASTER_DOTENV_FILE": str(self.dir / ".env"), "PYTHONUNBUFFERED": "1",
                              "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
                              "MRASTER_INSTANCE": INSTANCE})

    def write_files(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        config = {"ASTER_PAPER": True, "ASTER_PAPER_FEED": "synthetic", "ASTER_PAPER_SPEED": self.speed,
                  "ASTER_PAPER_SEED": self.paper_seed, "ASTER_PAPER_SYMBOLS": SYMBOL, "ASTER_PAPER_ADMIN": True,
                  "ASTER_PAPER_URL": f"http://127.0.0.1:{self.port}"}
        (self.dir / "dashboard_config.json").write_text(json.dumps(config, indent=1) + "\n")
        (self.dir / "engines.json").write_text(json.dumps({"instances": [
            {"name": INSTANCE, "kind": "deltaneutral", "accounts": {"account": "main"}, "settings": SETTINGS}]},
            indent=1) + "\n")

    def _start_operator(self) -> None:
        self.operator = ChildProcess([sys.executable, "-m", "deltaneutral", "--instance", INSTANCE], self.dir,
                                     self._env(), self.dir / "logs" / "operator.out")
        self.operator.start()

    async def start(self) -> None:
        self.write_files()
        (self.dir / "logs").mkdir(exist_ok=True)
        self.paper = ChildProcess([sys.executable, "-m", "commands.main", "paper-exchange"], self.dir, self._env(),
                                  self.dir / "logs" / "paper.out")
        self.paper.start()
        await self._until(self._venue_answers, 60.0, "the operator's paper exchange")
        self._start_operator()

    async def _venue_answers(self) -> bool:
        try:
            return (await self._http.get("/paper/info")).status_code == 200
        except httpx.HTTPError:
            return False

    async def _until(self, probe: Any, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if await probe():
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{what} did not come up within {timeout:.0f} s")

    def status(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.dir / "run" / f"{INSTANCE}.status.json").read_text()))
        except (OSError, ValueError):
            return {}

    # ------------------------------------------------------------------ monitor
    async def monitor(self) -> None:
        while not self._stop.is_set():
            try:
                snap = (await self._http.get("/admin/state")).json()
                self.observe(snap, time.time())
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.poll_s)
            except asyncio.TimeoutError:
                pass

    def observe(self, snap: dict[str, Any], wall: float) -> None:
        venue_ms = int(snap["venue"]["venue_time"])
        for name, active in judge(snap, self.max_leg, self.drift).items():
            self.trackers[name].observe(wall, venue_ms, active)
        self.latest = snap
        self.polls += 1

    # ------------------------------------------------------------------ faults
    async def faults_run(self, wall_s: float) -> None:
        """SIGKILL + restart at a third of the run, a forced LONG liquidation at two thirds.

        Both times count from the start, so a slow restart on a loaded machine does not push the
        liquidation past the end of the run."""
        t_start = time.monotonic()
        await self._sleep(wall_s / 3)
        if self._stop.is_set():
            return
        await self._until(self._pair_held, wall_s / 3, "a pair before the operator kill")
        pid = self.operator.proc.pid if self.operator and self.operator.proc else 0
        if self.operator is not None:
            self.operator.kill()
        self._start_operator()
        t0 = time.time()
        await self._until(self._adopted_by_new_process(pid), 60.0, "the restarted operator")
        self.faults.append({"kind": "operator_kill", "pid": pid, "recovery_s": round(time.time() - t0, 2)})
        await self._sleep(max(0.0, t_start + 2 * wall_s / 3 - time.monotonic()))
        if self._stop.is_set():
            return
        await self._until(self._pair_held, wall_s / 4, "a pair before the liquidation")
        out = (await self._http.post("/admin/liquidate", json={"symbol": SYMBOL, "positionSide": "LONG"})).json()
        t1 = time.time()
        if isinstance(out.get("state"), dict):     # the venue at the liquidation: the lone leg, however brief
            self.observe(out["state"], t1)
        await self._until(self._flat, 30.0, "the other leg closed after the liquidation")
        closed_s = round(time.time() - t1, 2)
        await self._http.request("DELETE", "/admin/price", params={"symbol": SYMBOL})
        self.faults.append({"kind": "leg_liquidated", "liquidated": bool(out.get("liquidated")),
                            "other_leg_closed_s": closed_s})

    async def _sleep(self, s: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=s)
        except asyncio.TimeoutError:
            pass

    async def _pair_held(self) -> bool:
        return len(legs_of(self.latest)) == 2

    async def _flat(self) -> bool:
        return bool(self.latest) and not legs_of(self.latest)

    def _adopted_by_new_process(self, old_pid: int) -> Any:
        async def probe() -> bool:
            st = self.status()
            return bool(st.get("pid") and st["pid"] != old_pid and any(p.get("adopted") for p in st.get("pairs", [])))
        return probe

    # ------------------------------------------------------------------ end
    async def finish(self) -> dict[str, Any]:
        """Stop the operator (SIGTERM: it must exit 0), read its trade database, stop its venue."""
        self._stop.set()
        code = self.operator.stop(timeout=20) if self.operator else None
        for t in self.trackers.values():
            t.finish()
        summary: dict[str, Any] = {"exit_code": code, "polls": self.polls, "faults": self.faults}
        try:
            db = TradeDB(self.dir / "aster_journal.sqlite", create=False)
            trades = db.trades(INSTANCE)
            positions = db.positions(INSTANCE)
            summary.update(trades=len(trades), pairs=len({p["pair_id"] for p in positions}),
                           volume=str(sum((Decimal(t["notional"]) for t in trades), Decimal(0))),
                           close_reasons=sorted({p["close_reason"].split(":")[0] for p in positions if p["close_reason"]}))
            db.close()
        except Exception as exc:   # a missing database is reported, not raised: the verdict counts it
            summary["db_error"] = f"{type(exc).__name__}: {exc}"
        await self.close()
        return summary

    async def close(self) -> None:
        self._stop.set()
        for child in (self.operator, self.paper):
            if child is not None:
                child.stop(timeout=15)
        await self._http.aclose()

    def invariants(self) -> list[dict[str, Any]]:
        out = []
        for name in NAMES:
            t = self.trackers[name]
            now = t.last_wall or 0.0
            bad = [ep for ep in t.episodes() if ep.violated]
            out.append({"name": name, "violations": len(bad),
                        "details": [f"{ep.detail}: {ep.length_s(now):.2f} s" for ep in bad][:50],
                        "episodes": len(t.episodes()),
                        "longest_s": round(max((ep.length_s(now) for ep in t.episodes()), default=0.0), 3)})
        return out

    def problems(self, summary: dict[str, Any]) -> list[str]:
        """How the part ended: a run in which it never held a pair, or its faults did not land, proves little."""
        out = []
        if summary.get("exit_code") != 0:
            out.append(f"the operator exited with code {summary.get('exit_code')} when stopped")
        if summary.get("db_error") or not summary.get("pairs"):
            out.append(f"the operator opened no pair ({summary.get('db_error', 'none in its trade database')})")
        kinds = {f["kind"] for f in self.faults}
        out += [f"operator fault not carried out: {k}" for k in ("operator_kill", "leg_liquidated") if k not in kinds]
        if self.polls == 0:
            out.append("the operator's venue was never read")
        return out
