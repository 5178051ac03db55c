"""The executor's rules without I/O: admission, maker expiry, coordinator silence, emergency stop.

The service (`executor.py`) feeds it the clock and the venue's answers and carries out what it says;
tests drive it with a fake clock. Modes:

    waiting  started, has not heard from the coordinator yet: trades nothing
    active   hears the coordinator: executes admitted instructions
    silent   the coordinator fell silent beyond the timeout: resting orders cancelled, trades nothing
             until it hears from it again (any valid signed instruction, heartbeats included)
    stopped  emergency stop: everything cancelled, position closed; refuses until reset
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mraster.domain.ownership import owns

from maker.protocol import Instruction

EXPIRE_MIN_S, EXPIRE_MAX_S = 5.0, 30.0
ZERO = Decimal(0)


@dataclass
class TrackedMaker:
    client_id: str
    side: str
    qty: Decimal
    price: Decimal
    placed_ms: int
    expires_ms: int
    order_id: int | None = None
    filled: Decimal = ZERO
    cancel_tries: int = 0

    @property
    def left(self) -> Decimal:
        return max(ZERO, self.qty - self.filled)


class ExecutorCore:
    def __init__(self, name: str, instance: str, *, max_usd: Decimal, silence_ms: int,
                 default_expire_s: float = 30.0, symbol: str = "BTCUSDT"):
        self.name, self.instance, self.symbol = name, instance, symbol
        self.max_usd = max_usd
        self.silence_ms = silence_ms
        self.default_expire_s = default_expire_s
        self.mode = "waiting"
        self.last_heard_ms: int | None = None
        self.position = ZERO
        self.position_ms = 0                     # local time the position was last set (stream or REST)
        self.makers: dict[str, TrackedMaker] = {}
        self.done_ids: dict[str, str] = {}       # client id -> outcome: a repeated client id is never re-sent
        self.takers: dict[str, tuple[str, Decimal, int | None]] = {}   # in flight or not yet in the position:
        #                                          client id -> (side, qty, acknowledged at ms or None)
        self.stop_reason = ""

    # ------------------------------------------------------------------ coordinator contact
    def hear(self, now_ms: int) -> None:
        self.last_heard_ms = now_ms
        if self.mode in ("waiting", "silent"):
            self.mode = "active"

    def check_silence(self, now_ms: int) -> bool:
        """True once when the coordinator has just become silent: the caller cancels every resting order."""
        if self.mode != "active" or self.last_heard_ms is None:
            return False
        if now_ms - self.last_heard_ms > self.silence_ms:
            self.mode = "silent"
            return True
        return False

    def last_instruction_age_s(self, now_ms: int) -> float | None:
        return None if self.last_heard_ms is None else (now_ms - self.last_heard_ms) / 1000.0

    # ------------------------------------------------------------------ admission
    def expire_s(self, ins: Instruction) -> float:
        want = self.default_expire_s if ins.expire_s is None else ins.expire_s
        return min(EXPIRE_MAX_S, max(EXPIRE_MIN_S, want))

    def resting(self, side: str) -> Decimal:
        """Maker orders left on that side, plus takers the position does not show yet."""
        makers = sum((m.left for m in self.makers.values() if m.side == side), ZERO)
        return makers + sum((q for s, q, _ in self.takers.values() if s == side), ZERO)

    def position_seen(self, as_of_ms: int, position: Decimal) -> None:
        """A REST position read that started at `as_of_ms`: takers acknowledged before it are in it now. A
        stream update received after the read started is fresher: the read does not overwrite it."""
        if self.position_ms <= as_of_ms:
            self.position, self.position_ms = position, as_of_ms
        for cid, (_, _, acked) in list(self.takers.items()):
            if acked is not None and acked < as_of_ms:
                del self.takers[cid]

    def admit(self, ins: Instruction, price: Decimal) -> str:
        """THE admission of every order path ("" = go, else why not). A kernel risk gate plugs in here."""
        if self.mode == "stopped":
            return f"emergency-stopped ({self.stop_reason}); POST /reset first"
        if self.mode != "active":
            return f"not trading ({self.mode})"
        if ins.action in ("heartbeat", "cancel_all"):
            return ""
        if not owns(self.instance, ins.client_id) or not ins.client_id.split(":", 1)[1].startswith(f"{self.name}."):
            return f"client id {ins.client_id} is not one of {self.instance}:{self.name}.*"
        if ins.action == "cancel":
            return ""
        if ins.client_id in self.done_ids:
            return f"client id {ins.client_id} already used ({self.done_ids[ins.client_id]})"
        if price <= 0:
            return "no price to judge the position limit"
        sign = Decimal(1) if ins.side == "BUY" else Decimal(-1)
        reduces = self.position * sign < 0 and ins.qty <= abs(self.position)
        if ins.action == "taker" and ins.reduce_only and not reduces:
            return f"reduce-only {ins.side} {ins.qty} would not reduce the position {self.position}"
        if reduces and ins.action == "taker":
            return ""
        after = self.position + sign * (self.resting(ins.side) + ins.qty)
        if abs(after) * price > self.max_usd * Decimal("1.000001"):
            return (f"{ins.side} {ins.qty} with {self.resting(ins.side)} resting would take the position to "
                    f"{after} (${abs(after) * price:.2f}), over the maximum ${self.max_usd}")
        return ""

    # ------------------------------------------------------------------ makers
    def track(self, ins: Instruction, now_ms: int) -> TrackedMaker:
        m = TrackedMaker(ins.client_id, ins.side, ins.qty, ins.price, now_ms,
                         now_ms + int(self.expire_s(ins) * 1000))
        self.makers[ins.client_id] = m
        return m

    def due(self, now_ms: int) -> list[TrackedMaker]:
        """Maker orders at or past their expiry (to cancel now)."""
        return [m for m in self.makers.values() if now_ms >= m.expires_ms]

    def position_update(self, position: Decimal, now_ms: int) -> None:
        """The user-data stream's position (the freshest source)."""
        self.position, self.position_ms = position, now_ms

    def fill(self, client_id: str, qty: Decimal) -> None:
        m = self.makers.get(client_id)
        if m is not None:
            m.filled += qty
            if m.left <= 0:
                self.forget(client_id, "filled")

    def forget(self, client_id: str, outcome: str) -> None:
        self.makers.pop(client_id, None)
        self.done_ids[client_id] = outcome
        if len(self.done_ids) > 50_000:
            for key in list(self.done_ids)[:10_000]:
                del self.done_ids[key]

    # ------------------------------------------------------------------ emergency stop
    def stop(self, reason: str) -> None:
        self.mode, self.stop_reason = "stopped", reason

    def reset(self) -> None:
        """Leave the stop; trading resumes when the coordinator is heard again."""
        if self.mode == "stopped":
            self.mode, self.stop_reason = "waiting", ""
