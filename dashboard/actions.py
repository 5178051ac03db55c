"""Actions that involve more than one child: starting to trade needs a venue and a guard."""
from __future__ import annotations

from typing import Any

from mraster.logs import get_logger

from dashboard.deps import Services
from dashboard.services.venue import answers

log = get_logger("dashboard.actions")


async def ensure_paper_exchange(services: Services) -> str:
    """In paper mode, start the paper exchange when none answers at ASTER_PAPER_URL.
    Returns what was found: '' (not paper mode or disabled), running, answering or started."""
    s = services.settings
    if not s.paper or not services.start_paper_exchange or not services.supervisor.has("paper"):
        return ""
    if services.supervisor.is_running("paper"):
        return "running"
    if await answers(s.paper_url):
        return "answering"
    await services.supervisor.start("paper")
    log.info("paper.started", f"no paper exchange answered at {s.paper_url}; started one", activity=True)
    return "started"


async def start_trading(services: Services, with_guard: bool = True) -> dict[str, Any]:
    """Start the bot, with the guard beside it (a bot without a guard would leave positions
    unprotected if it crashed) and, in paper mode, a paper exchange when none answers. Live, nothing
    starts unless the venue accepted the credentials (CredentialsRefused with the diagnosis)."""
    sup = services.supervisor
    await services.credentials.require("bot")      # live: the venue accepted the credentials (else raises)
    also = []
    if await ensure_paper_exchange(services) == "started":
        also.append("paper")
    if with_guard and sup.has("guard") and not sup.is_running("guard"):
        await sup.start("guard")
        also.append("guard")
    status = await sup.start("bot")
    return {"status": status, "also_started": also}


async def after_close(services: Services) -> None:
    """After a close or a flatten from the page: the closed position must vanish from the page and its
    exit reach the trade history now, not at the next refresh."""
    if services.state.venue is not None:
        services.state.venue.invalidate()
    services.state.invalidate_snapshot()
    try:
        await services.exits.sweep(fresh=True)
    except Exception:  # noqa: BLE001 - the background sweep tries again within seconds
        pass
    services.state.invalidate_snapshot()
