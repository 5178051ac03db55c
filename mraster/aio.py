"""Small asyncio helpers shared by every long-lived process (venue, client streams, guard, dashboard)."""
from __future__ import annotations

import asyncio
from typing import Any

from mraster.logs import get_logger

log = get_logger("aio")


async def cancel_and_wait(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel background tasks and wait until they have really finished.

    A task that failed before it was cancelled has its error logged here rather than lost."""
    live = [t for t in tasks if t is not None]
    for task in live:
        task.cancel()
    for task, result in zip(live, await asyncio.gather(*live, return_exceptions=True)):
        if isinstance(result, Exception) and not isinstance(result, asyncio.CancelledError):
            log.warning("task.failed", f"background task {task.get_name()} had failed: {result!r}")
