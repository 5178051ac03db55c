"""Requests from the dashboard to a running engine, as small files in the run directory.

One writer per file:
- `entries-paused-<account>.json`, written by the dashboard: the engine opens no new position while it
  says `paused` (it keeps reconciling, protecting and managing what is open). Unreadable counts as
  paused (when in doubt, no new exposure), like the kill-switch latch.
- `force-entry-<account>.json`, written by the dashboard: one forced entry (symbol, side, bucket) with a
  fresh id. The engine takes it through its normal entry path (sizing, setup, entry, stop and
  take-profit), at most once per id.
- `force-entry-<account>.result.json`, written by the engine: the outcome for the last id it handled
  (`enter` and the trade id, or the reason it did not enter), which the dashboard shows.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mraster.safety.killswitch import account_key
from mraster.storage.atomic import write_json_atomic

SIDES = ("LONG", "SHORT")
BUCKETS = ("S", "M", "L")


def pause_path(settings: Any, run_dir: Path | str | None = None) -> Path:
    return Path(settings.run_dir if run_dir is None else run_dir) / f"entries-paused-{account_key(settings)}.json"


def force_path(settings: Any, run_dir: Path | str | None = None) -> Path:
    return Path(settings.run_dir if run_dir is None else run_dir) / f"force-entry-{account_key(settings)}.json"


def result_path(settings: Any, run_dir: Path | str | None = None) -> Path:
    return force_path(settings, run_dir).with_suffix(".result.json")


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


# --------------------------------------------------------------------------- pause
def write_pause(path: Path, paused: bool, who: str, reason: str, now_ms: int) -> dict[str, Any]:
    record = {"paused": bool(paused), "by": who, "reason": reason, "since_ms": now_ms}
    write_json_atomic(path, record)
    return record


def read_pause(path: Path) -> dict[str, Any]:
    """{"paused": bool, ...}; an unreadable file counts as paused, with the problem."""
    try:
        data = _read(path)
    except (OSError, ValueError) as exc:
        return {"paused": True, "by": "", "reason": f"{path.name} unreadable ({exc}): treated as paused",
                "since_ms": 0}
    if data is None:
        return {"paused": False, "by": "", "reason": "", "since_ms": 0}
    if not isinstance(data, dict):
        return {"paused": True, "by": "", "reason": f"{path.name} is not an object: treated as paused", "since_ms": 0}
    return {"paused": bool(data.get("paused")), "by": str(data.get("by", "")), "reason": str(data.get("reason", "")),
            "since_ms": int(data.get("since_ms") or 0)}


def entries_paused(settings: Any) -> str:
    """The engine's check: "" when entries may be opened, else why not."""
    state = read_pause(pause_path(settings))
    if not state["paused"]:
        return ""
    return f"entries paused from the dashboard{' by ' + state['by'] if state['by'] else ''}" + \
        (f": {state['reason']}" if state["reason"] else "")


# --------------------------------------------------------------------------- forced entry
@dataclass(frozen=True)
class ForceRequest:
    id: str
    symbol: str
    side: str            # LONG or SHORT
    bucket: str          # S, M or L
    requested_ms: int
    by: str = ""

    def problem(self) -> str:
        if self.side not in SIDES:
            return f"side must be LONG or SHORT, not {self.side!r}"
        if self.bucket not in BUCKETS:
            return f"bucket must be S, M or L, not {self.bucket!r}"
        if not self.symbol.isalnum() or not self.symbol.isupper():
            return f"{self.symbol!r} is not a symbol"
        return ""


def write_force(path: Path, req: ForceRequest) -> None:
    write_json_atomic(path, asdict(req))


def read_force(path: Path) -> ForceRequest | None:
    try:
        data = _read(path)
        if not isinstance(data, dict):
            return None
        return ForceRequest(id=str(data["id"]), symbol=str(data["symbol"]).upper(), side=str(data["side"]).upper(),
                            bucket=str(data.get("bucket", "M")).upper(), requested_ms=int(data["requested_ms"]),
                            by=str(data.get("by", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_result(path: Path, req_id: str, outcome: str, detail: str, trade_id: str, now_ms: int) -> None:
    write_json_atomic(path, {"id": req_id, "outcome": outcome, "detail": detail, "trade_id": trade_id,
                             "done_ms": now_ms})


def read_result(path: Path) -> dict[str, Any] | None:
    try:
        data = _read(path)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pending_force(settings: Any) -> ForceRequest | None:
    """The forced entry the engine has not handled yet (None when there is none)."""
    req = read_force(force_path(settings))
    if req is None:
        return None
    done = read_result(result_path(settings))
    return None if done is not None and done.get("id") == req.id else req
