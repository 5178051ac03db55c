"""Fixtures of the trial's tests: the short trial runs once per session and every test reads its result."""
from __future__ import annotations

import asyncio
import json

import pytest

from trial import SHORT, run_trial


@pytest.fixture(scope="session")
def short_trial(tmp_path_factory):
    """The short version of `mraster trial`, run for real: dashboard, paper exchange, bot and guard as
    child processes on free ports in a temporary directory. Returns (result, work directory)."""
    work = tmp_path_factory.mktemp("trial") / "short"
    lines: list[str] = []
    result = asyncio.run(run_trial(SHORT, work, "mraster trial --short", say=lines.append))
    result["_log"] = lines
    return result, work


def explain(result) -> str:
    """What to print when an assertion about the trial fails."""
    keep = {k: result.get(k) for k in ("error", "invariants", "plan", "kills", "operator", "_log")}
    return json.dumps(keep, indent=1, default=str)[:6000]
