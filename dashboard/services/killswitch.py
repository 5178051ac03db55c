"""The kill-switch latch as the page sees it, and a person's reset (mraster/safety/killswitch.py).

The latch belongs to the account the dashboard's settings name (paper or live), the same file the
guard writes and the bot reads; the dashboard only reads it and, on a person's request, resets it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from mraster.logs import get_logger
from mraster.safety import killswitch

log = get_logger("dashboard.killswitch")
CONFIRM_WORD = "RESET"


def latch_view(settings: Any, run_dir: Path) -> dict[str, Any]:
    """For the status API and the page: latched or not, who fired it, when, why, and the last reset."""
    path = killswitch.latch_path(settings, run_dir)
    latch = killswitch.read_latch(path, killswitch.account_key(settings))
    return {**latch.to_json(), "file": path.name}


class KillSwitchService:
    def __init__(self, settings: Callable[[], Any], run_dir: Path):
        self._settings = settings
        self.run_dir = Path(run_dir)

    def status(self) -> dict[str, Any]:
        return latch_view(self._settings(), self.run_dir)

    def reset(self, who: str) -> dict[str, Any]:
        s = self._settings()
        path = killswitch.latch_path(s, self.run_dir)
        before = killswitch.read_latch(path, killswitch.account_key(s))
        latch = killswitch.reset(path, killswitch.account_key(s), f"dashboard:{who}")
        log.warning("kill_switch.reset", f"kill-switch reset by {who} (it had fired "
                    f"{'' if before.latched else 'earlier and was not latched; '}because: {before.reason or '-'}); "
                    "engines may open positions again", who=who, was_latched=before.latched, activity=True)
        return {**latch.to_json(), "file": path.name, "was_latched": before.latched}
