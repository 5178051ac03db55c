"""Fault injection: what can go wrong between a client and a venue, on purpose.

Set at start (`--faults "latency_ms=50,error_rate=0.1"`) or through `POST /admin/faults`.
Faults apply to the venue API (`/fapi/...`, WebSocket streams), never to `/admin` or `/paper`.

| name | effect |
| --- | --- |
| latency_ms=N | every request waits N ms before it is handled |
| error_rate=F | a share F of requests get HTTP 500 `{"code":-1001}` and are NOT executed |
| drop_rate=F | a share F of requests get no response: the connection is closed, nothing executed |
| burst_429=N | the next N requests get HTTP 429 `-1003` with `Retry-After: 1` |
| ban_418=S | every request gets HTTP 418 `-1003` with `Retry-After` for the next S seconds |
| clock_skew_ms=N | the venue's API clock (`/fapi/v1/time`, timestamp check) runs N ms off: clients get -1021 until they resync |
| ws_disconnect=1 | every open WebSocket is dropped now (one-shot) |
| lose_order_response=N | the next N order placements are executed, but the connection is closed instead of answering |
| late_order=N | the next N order placements are answered HTTP 503 `-1007` (execution unknown) at once and executed `late_order_ms` later (default 1500 ms), after a client's look-up has answered "unknown order" |
| late_order_ms=N | the delay of `late_order` (wall ms) |

Random choices come from a seeded generator, so a fault scenario repeats exactly.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping

INT_FAULTS = ("latency_ms", "burst_429", "ban_418", "clock_skew_ms", "lose_order_response", "ws_disconnect",
              "late_order", "late_order_ms")
LATE_ORDER_DEFAULT_MS = 1500
RATE_FAULTS = ("error_rate", "drop_rate")
ALL_FAULTS = INT_FAULTS + RATE_FAULTS


class FaultSpecError(ValueError):
    """A fault specification names an unknown fault or a bad value."""


def parse_spec(spec: str | Mapping[str, Any] | None) -> dict[str, float]:
    """'latency_ms=50,error_rate=0.1' (or a mapping) -> validated {name: value}."""
    if spec is None:
        return {}
    if isinstance(spec, str):
        items: dict[str, Any] = {}
        for part in spec.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, value = part.partition("=")
            if not sep:
                raise FaultSpecError(f"fault {part!r}: expected NAME=VALUE (e.g. latency_ms=50)")
            items[name.strip()] = value.strip()
    else:
        items = dict(spec)
    out: dict[str, float] = {}
    for name, raw in items.items():
        if name not in ALL_FAULTS:
            raise FaultSpecError(f"unknown fault {name!r}; known: {', '.join(ALL_FAULTS)}")
        if isinstance(raw, bool):
            raw = int(raw)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise FaultSpecError(f"fault {name}={raw!r}: expected a number") from None
        if name in RATE_FAULTS and not 0.0 <= value <= 1.0:
            raise FaultSpecError(f"fault {name}={raw}: expected a share from 0 to 1")
        if name in INT_FAULTS and name != "clock_skew_ms" and value < 0:
            raise FaultSpecError(f"fault {name}={raw}: must not be negative")
        out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one request: wait, then maybe answer an error or drop the connection."""
    delay_s: float = 0.0
    status: int = 0            # 0 = handle normally
    code: int = 0
    msg: str = ""
    retry_after: int = 0
    drop: bool = False


PASS = Decision()


class Faults:
    """The active faults of one paper exchange. Wall-clock based: faults are about the connection."""

    def __init__(self, seed: int = 0, spec: str | Mapping[str, Any] | None = None):
        self._rng = random.Random(seed ^ 0x5EED)
        self.latency_ms = 0
        self.error_rate = 0.0
        self.drop_rate = 0.0
        self.burst_429 = 0
        self.ban_until_s = 0.0
        self.clock_skew_ms = 0
        self.lose_order_response = 0
        self.late_order = 0
        self.late_order_ms = 0
        self.ws_disconnect_epoch = 0          # bumped by ws_disconnect; stream handlers watch it
        if spec:
            self.apply(parse_spec(spec), now_s=0.0)

    def apply(self, values: Mapping[str, float], now_s: float) -> None:
        for name, value in values.items():
            if name == "ban_418":
                self.ban_until_s = now_s + value if value > 0 else 0.0
            elif name == "ws_disconnect":
                if value:
                    self.ws_disconnect_epoch += 1
            elif name in RATE_FAULTS:
                setattr(self, name, float(value))
            else:
                setattr(self, name, int(value))

    def clear(self) -> None:
        self.latency_ms = self.burst_429 = self.clock_skew_ms = self.lose_order_response = 0
        self.late_order = self.late_order_ms = 0
        self.error_rate = self.drop_rate = 0.0
        self.ban_until_s = 0.0

    def active(self, now_s: float) -> dict[str, float]:
        """The faults in force (for /paper/info and the admin API)."""
        out: dict[str, float] = {}
        for name in ("latency_ms", "error_rate", "drop_rate", "burst_429", "clock_skew_ms", "lose_order_response",
                     "late_order", "late_order_ms"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.ban_until_s > now_s:
            out["ban_418"] = round(self.ban_until_s - now_s, 3)
        return out

    def decide(self, now_s: float) -> Decision:
        """Called once per venue request before it is handled."""
        delay = self.latency_ms / 1000.0
        if self.ban_until_s > now_s:
            wait = max(1, int(self.ban_until_s - now_s + 0.999))
            return Decision(delay, 418, -1003, f"Way too many requests; IP banned for {wait} more seconds.",
                            retry_after=wait)
        if self.burst_429 > 0:
            self.burst_429 -= 1
            return Decision(delay, 429, -1003, "Too many requests; please use the websocket for live updates.",
                            retry_after=1)
        if self.drop_rate and self._rng.random() < self.drop_rate:
            return Decision(delay, drop=True)
        if self.error_rate and self._rng.random() < self.error_rate:
            return Decision(delay, 500, -1001, "Internal error; unable to process your request. Please try again.")
        return Decision(delay) if delay else PASS

    def take_lost_order_response(self) -> bool:
        """True when this (already executed) order's response must be lost."""
        if self.lose_order_response > 0:
            self.lose_order_response -= 1
            return True
        return False

    def take_late_order(self) -> float:
        """Seconds to hold this order placement before executing it (0: execute now)."""
        if self.late_order > 0:
            self.late_order -= 1
            return (self.late_order_ms or LATE_ORDER_DEFAULT_MS) / 1000.0
        return 0.0
