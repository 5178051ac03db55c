"""Pause new entries and force one entry: requests the running bot reads from the run directory
(mraster/safety/control.py). The dashboard is the one writer of the request files; the bot writes the
forced entry's result, which `force_status` reads back for the page."""
from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any, Callable

from mraster.logs import get_logger
from mraster.safety import control

log = get_logger("dashboard.controls")


class Controls:
    def __init__(self, settings_getter: Callable[[], Any], run_dir: Path, wall: Callable[[], float] = time.time):
        self._settings = settings_getter
        self.run_dir = Path(run_dir)
        self._wall = wall

    def _now_ms(self) -> int:
        return int(self._wall() * 1000)

    def pause_state(self) -> dict[str, Any]:
        return control.read_pause(control.pause_path(self._settings(), self.run_dir))

    def set_pause(self, paused: bool, who: str, reason: str = "") -> dict[str, Any]:
        record = control.write_pause(control.pause_path(self._settings(), self.run_dir), paused, who, reason,
                                     self._now_ms())
        text = ("new entries paused: the bot keeps protecting and managing open positions" if paused
                else "new entries allowed again")
        log.warning("entries.paused" if paused else "entries.resumed", f"{text} (by {who})", who=who, activity=True)
        return record

    def force(self, symbol: str, side: str, bucket: str, who: str) -> dict[str, Any]:
        """Queue one forced entry; ValueError with the reason when the request is not valid."""
        req = control.ForceRequest(id=uuid.uuid4().hex[:12], symbol=symbol.upper(), side=side.upper(),
                                   bucket=bucket.upper(), requested_ms=self._now_ms(), by=who)
        problem = req.problem()
        if problem:
            raise ValueError(problem)
        pending = control.read_force(control.force_path(self._settings(), self.run_dir))
        if pending is not None and self.force_status(pending.id)["status"] == "queued" and \
                self._now_ms() - pending.requested_ms < 300_000:
            raise ValueError(f"a forced entry ({pending.side} {pending.symbol}) is still waiting for the bot")
        control.write_force(control.force_path(self._settings(), self.run_dir), req)
        log.warning("entry.force_requested", f"forced entry {req.side} {req.symbol} ({req.bucket}) requested by {who}",
                    symbol=req.symbol, request=req.id, who=who, activity=True)
        return {"id": req.id, "status": "queued", "symbol": req.symbol, "side": req.side, "bucket": req.bucket}

    def force_status(self, req_id: str) -> dict[str, Any]:
        req = control.read_force(control.force_path(self._settings(), self.run_dir))
        result = control.read_result(control.result_path(self._settings(), self.run_dir))
        if result is not None and result.get("id") == req_id:
            return {"id": req_id, "status": "done", **{k: result.get(k) for k in ("outcome", "detail", "trade_id",
                                                                                   "done_ms")}}
        if req is not None and req.id == req_id:
            return {"id": req_id, "status": "queued"}
        return {"id": req_id, "status": "unknown"}
