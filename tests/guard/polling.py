"""Deadline-based polling: the one way the guard's tests wait for something (never a bare sleep)."""
from __future__ import annotations

import asyncio
import time
from typing import Callable


async def until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> float:
    """Poll `condition` until true; returns the seconds it took. Fails after `timeout`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)
    return time.monotonic() - start
