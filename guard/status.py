"""The guard's status file, `<ASTER_RUN_DIR>/guard_status.json` (schema version 1), read by the dashboard.

Written atomically after every check (and while waiting out an error), so its `heartbeat_ms`
(wall clock) tells whether the guard is alive. Field by field in docs/guard.md. Decimal values
are strings, as in the state file. Keys beyond the agreed schema are additions, never renames.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from mraster.domain.rules import fmt
from mraster.domain.types import Order, OrderType
from mraster.storage.atomic import write_json_atomic

from guard.planner import PositionView, SlotView

SCHEMA_VERSION = 1
RECENT_ACTIONS = 50


@dataclass
class KillSwitchStatus:
    threshold: float = 0.0
    safety_multiple: float | None = None
    triggered_ms: int | None = None
    reason: str = ""
    positions: list[dict[str, Any]] = field(default_factory=list)   # isolated positions' own measures
    latch: dict[str, Any] = field(default_factory=dict)             # the account's latch, as last read

    @property
    def enabled(self) -> bool:
        return self.threshold > 0


@dataclass
class GuardStatus:
    pid: int
    started_ms: int
    mode: str
    heartbeat_ms: int = 0
    stream_connected: bool = False
    stream_age_s: float | None = None
    stream_enabled: bool = True
    positions: dict[str, dict[str, Any]] = field(default_factory=dict)     # "SYMBOL/SIDE" -> entry
    repairs_total: int = 0
    recent_actions: deque = field(default_factory=lambda: deque(maxlen=RECENT_ACTIONS))
    last_error: str = ""
    last_error_ms: int | None = None
    last_check_ms: int | None = None
    checks_total: int = 0
    kill_switch: KillSwitchStatus = field(default_factory=KillSwitchStatus)

    # ------------------------------------------------------------------ updates
    def note_action(self, time_ms: int, symbol: str, action: str, reason: str) -> None:
        self.repairs_total += 1
        self.recent_actions.append({"time_ms": time_ms, "symbol": symbol, "action": action, "reason": reason})

    def note_error(self, time_ms: int, text: str) -> None:
        self.last_error, self.last_error_ms = text, time_ms

    def update_positions(self, views: Iterable[PositionView], scope: Iterable[str] | None) -> None:
        """Replace the entries of the symbols checked (all when `scope` is None); others are kept."""
        if scope is None:
            self.positions.clear()
        else:
            wanted = set(scope)
            for key in [k for k, v in self.positions.items() if v["symbol"] in wanted]:
                del self.positions[key]
        for v in views:
            self.positions[f"{v.position.symbol}/{v.position.position_side.value}"] = position_entry(v)

    # ------------------------------------------------------------------- output
    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "pid": self.pid,
            "started_ms": self.started_ms,
            "heartbeat_ms": self.heartbeat_ms,
            "mode": self.mode,
            "stream": {"connected": self.stream_connected,
                       "age_s": None if self.stream_age_s is None else round(self.stream_age_s, 3),
                       "enabled": self.stream_enabled},
            "positions": [self.positions[k] for k in sorted(self.positions)],
            "repairs_total": self.repairs_total,
            "recent_actions": list(self.recent_actions),
            "last_error": self.last_error,
            "last_error_ms": self.last_error_ms,
            "last_check_ms": self.last_check_ms,
            "checks_total": self.checks_total,
            "kill_switch": {"enabled": self.kill_switch.enabled, "safety_multiple": self.kill_switch.safety_multiple,
                            "threshold": self.kill_switch.threshold, "triggered_ms": self.kill_switch.triggered_ms,
                            "reason": self.kill_switch.reason, "positions": self.kill_switch.positions,
                            "latched": bool(self.kill_switch.latch.get("latched")), "latch": self.kill_switch.latch},
        }

    def write(self, path: Path) -> None:
        write_json_atomic(path, self.to_json())


def position_entry(v: PositionView) -> dict[str, Any]:
    p = v.position
    return {"symbol": p.symbol, "side": "LONG" if p.is_long else "SHORT", "position_side": p.position_side.value,
            "qty": fmt(p.qty), "entry_price": fmt(p.entry_price), "trade_id": v.trade_id,
            "stop": _slot(v.stop), "take_profit": _slot(v.take_profit), "protected": v.protected}


def _slot(s: SlotView) -> dict[str, Any]:
    o: Order | None = s.order
    if o is None:
        return {"client_id": None, "order_id": None, "price": None, "ok": False, "type": None}
    trailing = o.placed_type is OrderType.TRAILING_STOP_MARKET
    price = o.activate_price if trailing else o.stop_price
    return {"client_id": o.client_order_id, "order_id": o.order_id,
            "price": fmt(price) if price is not None and price > 0 else None, "ok": s.ok,
            "type": o.placed_type.value}
