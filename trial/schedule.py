"""The seeded fault schedule: which faults, in which order, at which wall second of the trial.

Pure: one seed gives one schedule. Faults are serialised: each starts only after the previous
one's window plus `min_gap_s` of quiet, so the system is expected to have recovered in between
(the executor also waits until processes are back and every position is protected). This keeps
apart the overlaps no design can survive, e.g. the guard dead while the venue cancels a stop, or
a 418 ban while a fresh position waits for its stop. The first entry kill, if any, is armed at
t = 0 to catch the first entry of the day; every other fault lands at a random moment between
the warm-up and the quiet tail.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Mapping

from trial.params import FaultPlan

BOT_KILL, BOT_ENTRY_KILL, GUARD_KILL = "bot_kill", "bot_entry_kill", "guard_kill"
PAPER_RESTART, ADMIN, VENUE_CANCEL, CONFIG_BURST = "paper_restart", "admin_fault", "venue_cancel", "config_burst"
DISK_FULL = "disk_full"

# Valid live settings a burst may change (values close to the defaults: behaviour stays sane) and
# requests that must be refused with 422 and write nothing. Limits and caps the invariants check
# against are never changed, so the limit in force is known at every entry.
VALID_CHANGES: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("FASTTP_COOLDOWN_S", (30.0, 45.0, 60.0)),
    ("ASTER_MIN_EDGE_R", (0.06, 0.08, 0.1)),
    ("ASTER_ALIGN_RSI_PAD", (1.0, 1.5, 2.0)),
    ("ASTER_WICKINESS_MAX", (0.98, 0.985)),
    ("ASTER_KLINE_CACHE_SEC", (30.0, 45.0)),
    ("ASTER_HTTP_BACKOFF", (0.5, 0.6)),
)
INVALID_CHANGES: tuple[dict[str, Any], ...] = (
    {"ASTER_LEVERAGE": 500},
    {"ASTER_RISK_PER_TRADE": -0.01},
    {"ASTER_INTERVAL": "7m"},
    {"ASTER_MIN_NOTIONAL_USDT": 5000},            # above ASTER_MAX_NOTIONAL_USDT: cross-check
    {"ASTER_MAX_OPEN_GLOBAL": "two"},
    {"ASTER_NO_SUCH_SETTING": 1},
    {"FASTTP_COOLDOWN_S": 40.0, "ASTER_LEVERAGE": 0},   # one good, one bad: nothing may be written
    {"ASTER_LOOP_SLEEP": "nan"},
    {"ASTER_INCLUDE_SYMBOLS": "btc usdt"},
    {"ASTER_CONFIG_FILE": "elsewhere.json"},      # env-only setting
)


@dataclass(frozen=True)
class FaultEvent:
    index: int
    kind: str
    at_s: float                     # nominal wall seconds after trading started
    window_s: float = 0.0           # how long the fault stays in force (0: instant)
    params: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        p = dict(self.params)
        if self.kind == ADMIN:
            return f"{p['fault']}={p['value']}" + (f" for {self.window_s:g} s" if self.window_s else "")
        if self.kind == VENUE_CANCEL:
            verb = "cancels" if p["status"] == "CANCELED" else "expires"
            return f"venue {verb} a random {'stop' if p['target'] == 'stop' else 'exit order'}"
        if self.kind == CONFIG_BURST:
            return f"{len(p['requests'])} config requests ({sum(1 for r in p['requests'] if not r['valid'])} invalid)"
        if self.kind == PAPER_RESTART:
            return "paper exchange " + ("restarted through the dashboard" if p["mode"] == "api" else
                                        "SIGKILLed (the dashboard restarts it)")
        if self.kind == DISK_FULL:
            return f"bot's disk full (RLIMIT_FSIZE 1 byte) for {self.window_s:g} s"
        return {BOT_KILL: "SIGKILL bot", BOT_ENTRY_KILL: "SIGKILL bot right after an entry fill",
                GUARD_KILL: "SIGKILL guard"}.get(self.kind, self.kind)


def admin_fault(rng: random.Random, name: str) -> tuple[dict[str, Any], float]:
    """Parameters and window of one admin fault."""
    if name == "error_rate":
        return {"fault": name, "value": round(rng.uniform(0.2, 0.5), 2)}, float(rng.randint(6, 12))
    if name == "drop_rate":
        return {"fault": name, "value": round(rng.uniform(0.1, 0.3), 2)}, float(rng.randint(5, 10))
    if name == "burst_429":
        return {"fault": name, "value": rng.randint(10, 30)}, 5.0
    if name == "ban_418":
        secs = rng.randint(2, 5)
        return {"fault": name, "value": secs}, float(secs)
    if name == "clock_skew_ms":
        return {"fault": name, "value": rng.choice((-1, 1)) * rng.randint(3_000, 30_000)}, float(rng.randint(6, 12))
    if name == "ws_disconnect":
        return {"fault": name, "value": 1}, 0.0
    if name == "lose_order_response":
        return {"fault": name, "value": rng.randint(1, 3)}, float(rng.randint(8, 15))
    if name == "late_order":        # answered "unknown", executed 1.5 s later (after the client's look-up)
        return {"fault": name, "value": rng.randint(1, 3)}, float(rng.randint(8, 15))
    if name == "latency_ms":
        return {"fault": name, "value": rng.randint(100, 400)}, float(rng.randint(5, 10))
    raise ValueError(f"unknown admin fault {name!r}")


def config_requests(rng: random.Random) -> list[dict[str, Any]]:
    """A burst: 2-4 valid PATCHes and 2-3 invalid requests (one of them a PUT), shuffled."""
    out: list[dict[str, Any]] = []
    for name, values in rng.sample(VALID_CHANGES, rng.randint(2, 4)):
        out.append({"method": "PATCH", "body": {name: rng.choice(values)}, "valid": True})
    for i, body in enumerate(rng.sample(INVALID_CHANGES, rng.randint(2, 3))):
        out.append({"method": "PUT" if i == 0 else "PATCH", "body": dict(body), "valid": False})
    rng.shuffle(out)
    return out


def _events(plan: FaultPlan, rng: random.Random) -> list[tuple[str, float, dict[str, Any]]]:
    items: list[tuple[str, float, dict[str, Any]]] = []
    items += [(BOT_KILL, 0.0, {})] * plan.bot_kills
    items += [(BOT_ENTRY_KILL, 0.0, {})] * max(0, plan.bot_entry_kills - 1)
    items += [(GUARD_KILL, 0.0, {})] * plan.guard_kills
    items += [(PAPER_RESTART, 0.0, {"mode": mode}) for mode in plan.paper_restarts]
    for name in plan.admin_faults:
        params, window = admin_fault(rng, name)
        items.append((ADMIN, window, params))
    for i in range(plan.venue_cancels):
        target = "stop" if i < plan.venue_stop_cancels else "any"
        items.append((VENUE_CANCEL, 0.0, {"target": target, "status": rng.choice(("CANCELED", "EXPIRED")),
                                          "pick": rng.random()}))
    items += [(CONFIG_BURST, 0.0, {"requests": config_requests(rng)}) for _ in range(plan.config_bursts)]
    items += [(DISK_FULL, float(rng.randint(8, 15)), {}) for _ in range(plan.disk_fulls)]
    rng.shuffle(items)
    return items


def build_schedule(plan: FaultPlan, duration_s: float, warmup_s: float, tail_s: float, seed: int) -> list[FaultEvent]:
    """Place every fault of `plan` in [warmup_s, duration_s - tail_s], serialised with random slack.

    Raises ValueError when the faults and their quiet gaps do not fit in the time available."""
    rng = random.Random(seed)
    items = _events(plan, rng)
    available = duration_s - tail_s - warmup_s
    need = sum(window + plan.min_gap_s for _, window, _ in items)
    if available < need:
        raise ValueError(f"{len(items)} faults need {need:.0f} s of wall time between the warm-up and the tail, "
                         f"but the run leaves {available:.0f} s: lower the fault counts, or run longer or slower")
    weights = [rng.random() for _ in range(len(items) + 1)]
    slack = available - need
    unit = slack / sum(weights) if weights and sum(weights) > 0 else 0.0
    events: list[FaultEvent] = []
    if plan.bot_entry_kills > 0:
        events.append(FaultEvent(0, BOT_ENTRY_KILL, 0.0, 0.0, {"first_entry": True}))
    t = warmup_s
    for i, (kind, window, params) in enumerate(items):
        t += weights[i] * unit
        events.append(FaultEvent(len(events), kind, round(t, 2), window, params))
        t += window + plan.min_gap_s
    return events
