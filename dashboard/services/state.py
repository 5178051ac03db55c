"""The live picture for the page: the bot's state file, the guard's status file, the paper
exchange's info and, in paper or live mode, the venue's own positions and orders.

Files are read only when they changed (mtime and size), never moved or rewritten:
the bot owns its state file. Anything missing, half-written or stale is reported
in the snapshot, so the page can say what it does not know.
"""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Callable

from mraster.state import BotState, read_state_readonly

from dashboard.services import views
from dashboard.services.killswitch import latch_view
from dashboard.services.venue import PaperInfo, VenueReader

GUARD_STATUS_FILE = "guard_status.json"


class _FileCache:
    """Re-parse a file only when its (mtime, size) changed."""

    def __init__(self, parse: Callable[[Path], Any]):
        self._parse = parse
        self._key: tuple[int, int] | None = None
        self._value: Any = None
        self.mtime: float | None = None

    def get(self, path: Path) -> Any:
        try:
            st = path.stat()
        except OSError:
            self._key, self._value, self.mtime = None, None, None
            return None
        key = (st.st_mtime_ns, st.st_size)
        if key != self._key:
            value = self._parse(path)
            if value is None and self._value is not None and self._key is not None:
                return self._value   # half-written for a moment: keep the last good one, retry next time
            self._key, self._value, self.mtime = key, value, st.st_mtime
        return self._value


def _read_guard_status(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema_version") != 1:
        return None
    return data


class StateService:
    def __init__(self, state_file: Path, run_dir: Path, settings_getter: Callable[[], Any],
                 venue: VenueReader | None = None, paper: PaperInfo | None = None,
                 wall: Callable[[], float] = time.time):
        self.state_file = Path(state_file)
        self.guard_file = Path(run_dir) / GUARD_STATUS_FILE
        self._settings = settings_getter
        self.venue = venue
        self.paper = paper
        self._wall = wall
        self._state = _FileCache(read_state_readonly)
        self._guard = _FileCache(_read_guard_status)

    def read_state(self) -> tuple[BotState | None, str, float | None]:
        state = self._state.get(self.state_file)
        if state is None:
            problem = ("the bot has not written its state yet" if not self.state_file.exists()
                       else f"{self.state_file.name} could not be read (being written, or another schema version)")
            return None, problem, None
        age = self._wall() - self._state.mtime if self._state.mtime else None
        return state, "", age

    def read_guard(self) -> tuple[dict[str, Any] | None, str, float | None]:
        guard = self._guard.get(self.guard_file)
        if guard is None:
            problem = ("the guard has not written its status yet" if not self.guard_file.exists()
                       else f"{self.guard_file.name} could not be read or has another schema version")
            return None, problem, None
        heartbeat = guard.get("heartbeat_ms")
        age = self._wall() - heartbeat / 1000 if isinstance(heartbeat, (int, float)) and heartbeat else None
        return guard, "", age

    def guard_stale_after(self) -> float:
        return max(10.0, 3 * float(getattr(self._settings(), "guard_interval", 3.0)) + 5)

    async def snapshot(self, with_venue: bool = True) -> dict[str, Any]:
        settings = self._settings()
        state, state_problem, state_age = self.read_state()
        guard, guard_problem, guard_age = self.read_guard()
        stale_after = self.guard_stale_after()
        guard_fresh = guard is not None and guard_age is not None and guard_age <= stale_after
        venue_positions = venue_orders = None
        venue_info: dict[str, Any] = {"enabled": False}
        if with_venue and self.venue is not None:
            pos, orders = await asyncio.gather(self.venue.positions(), self.venue.open_orders())
            venue_positions, venue_orders = pos["data"], orders["data"]
            venue_info = {"enabled": True, "error": pos["error"] or orders["error"], "age_s": pos["age_s"]}
        paper = await self.paper.get(settings.paper_url) if (self.paper and settings.paper) else {}
        return {
            "mode": "paper" if settings.paper else "live",
            "venue_profile": getattr(settings, "venue_profile", "aster-v1"),
            "time_ms": int(self._wall() * 1000),
            "state": views.state_summary(state, state_problem, state_age),
            "positions": views.positions_view(state, guard, guard_fresh, venue_positions),
            "orders": venue_orders if venue_orders is not None else [],
            "trades": views.trades_view(state),
            "equity_curve": state.equity_curve[-2000:] if state else [],
            "guard": views.guard_view(guard, guard_problem, guard_age, stale_after),
            "paper": paper,
            "venue": venue_info,
            "kill_switch": latch_view(settings, self.guard_file.parent),      # the account's kill-switch latch (mraster/safety/killswitch.py)
        }

    async def chart(self, symbol: str, interval: str, limit: int, end_ms: int | None = None) -> dict[str, Any]:
        state, _, _ = self.read_state()
        candles: dict[str, Any] = {"data": None, "error": "no venue connection configured", "age_s": None}
        if self.venue is not None:
            candles = await self.venue.klines(symbol, interval, limit, end_ms)
        return {"symbol": symbol, "interval": interval, "candles": candles["data"] or [],
                "problem": candles["error"], "markers": views.markers_for(state, symbol)}
