"""What the engine must remember across a restart, per symbol: its position (with the exits it armed and
the configuration it ran under), an entry in flight, and the cooldown. Written atomically to the
instance's state file (`<ASTER_RUN_DIR>/<instance>.state.json`) before an order is sent and after its
answer, so a restart never re-enters a symbol it holds and re-finds the exits it owns. A file that
cannot be read is moved aside and reported; the engine then adopts from the venue alone.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mraster.storage.atomic import CorruptFileError, read_json_checked, write_json_atomic

SCHEMA = 1


@dataclass
class Held:
    """One open position of the engine."""
    trade_id: str
    side: int                              # +1 long, -1 short
    qty: str
    entry_price: str
    entry_time_ms: int
    entry_cid: str = ""
    exits: dict[str, str] = field(default_factory=dict)       # role (TP/SL/TR) -> client order id
    plan: dict[str, Any] = field(default_factory=dict)        # ExitPlan.to_json()
    config: dict[str, Any] = field(default_factory=dict)      # parameters it entered under (+ config_id)
    adopted: bool = False
    close_reason: str = ""                 # set when the engine decided to close it (force_exit, kill_switch)


@dataclass
class SymbolState:
    held: Held | None = None
    pending_entry: dict[str, Any] | None = None               # {cid, side, time_ms, ...} until its answer
    cooldown_until_ms: int = 0
    last_exit: dict[str, Any] | None = None                   # for the dashboard: reason, time, pnl
    leftovers: list[str] = field(default_factory=list)       # exits of a closed position whose cancel failed


def _symbol_from_json(d: Any) -> SymbolState:
    if not isinstance(d, dict):
        raise ValueError("symbol entry is not an object")
    held = d.get("held")
    return SymbolState(Held(**held) if isinstance(held, dict) else None, d.get("pending_entry"),
                       int(d.get("cooldown_until_ms", 0)), d.get("last_exit"), list(d.get("leftovers") or []))


def load_state(path: Path | str) -> tuple[dict[str, SymbolState], str]:
    """(symbol -> state, problem). A corrupt file is kept aside and reported; the state starts empty."""
    def validate(obj: Any) -> dict[str, SymbolState]:
        if not isinstance(obj, dict) or not isinstance(obj.get("symbols"), dict):
            raise ValueError('expected an object with "symbols"')
        return {str(s): _symbol_from_json(v) for s, v in obj["symbols"].items()}
    try:
        data = read_json_checked(path, validate)
    except CorruptFileError as exc:
        return {}, str(exc)
    return (data or {}), ""


def save_state(path: Path | str, instance: str, states: dict[str, SymbolState]) -> None:
    write_json_atomic(path, {"schema": SCHEMA, "instance": instance,
                             "symbols": {s: asdict(st) for s, st in sorted(states.items())}})
