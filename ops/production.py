"""`mraster deploy production on|off|status`: seed 002's toggle_production.sh.

On enables and starts the main service, the notifier and every timer; off stops and disables them
(a running job finishes; nothing is deleted); status shows each unit's state and the next timer runs.
"""
from __future__ import annotations

from typing import Callable

from ops.engines import systemctl, unit_loaded
from ops.steps import StepFailed
from ops.systemd import production_units


def production(action: str, name: str, out: Callable[[str], None] = print) -> int:
    units = list(production_units(name, recorder=unit_loaded(f"{name}-recorder.service")))
    if action == "on":
        systemctl("daemon-reload")
        systemctl("enable", "--now", *units)
        out(f"production ON: enabled and started {', '.join(units)}")
        return 0
    if action == "off":
        # timers first, so no job starts while the service is being stopped
        systemctl("disable", "--now", *units[::-1])
        out(f"production OFF: stopped and disabled {', '.join(units)}")
        return 0
    if action == "status":
        worst = 0
        for unit in units:
            _, enabled = systemctl("is-enabled", unit, check=False)
            _, active = systemctl("is-active", unit, check=False)
            out(f"{unit:<36} {enabled or 'unknown':<10} {active or 'unknown'}")
            if enabled != "enabled" or active != "active":
                worst = 3
        _, timers = systemctl("list-timers", "--all", "--no-pager", f"{name}-*", check=False)
        if timers:
            out(timers)
        out("production is " + ("ON" if worst == 0 else "OFF or incomplete (see above)"))
        return worst
    raise StepFailed(f"unknown action {action!r}: expected on, off or status")
