"""The operator as a real process (`python -m deltaneutral --instance dn1`, as the dashboard starts it):
a leg liquidated by the venue closes the other within seconds; SIGKILL and restart adopt the pair."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from mraster.childproc import ChildProcess, clean_environ
from mraster.tradedb import TradeDB
from tests.deltaneutral.harness import PaperExchange, env_for, positions, write_instances

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def wait_for(check, what: str, deadline_s: float = 30.0, child: ChildProcess | None = None):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        if child is not None and not child.running:
            raise AssertionError(f"operator exited ({child.returncode}) while waiting for {what}:\n{child.tail()}")
        time.sleep(0.05)      # polling a child process's files, not synchronising test logic
    raise AssertionError(f"timed out waiting for {what}" + (f":\n{child.tail()}" if child else ""))


def status(work: Path) -> dict:
    try:
        return json.loads((work / "run" / "dn1.status.json").read_text())
    except (OSError, ValueError):
        return {}


def pair_of(work: Path) -> dict | None:
    pairs = status(work).get("pairs") or []
    return pairs[0] if pairs and pairs[0]["long"] and pairs[0]["short"] else None


def start(px: PaperExchange, work: Path) -> ChildProcess:
    env = clean_environ({**env_for(px, work), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
                         "MRASTER_INSTANCE": "dn1"})
    child = ChildProcess([sys.executable, "-m", "deltaneutral", "--instance", "dn1"], work, env, work / "dn1.out")
    child.start()
    return child


def test_kill_restart_and_a_liquidated_leg(tmp_path: Path):
    work = tmp_path / "w"
    write_instances(work, {"CAPITAL_USDT": 1000, "TRADING_PAIRS": "ETHUSDT", "LEG_CHECK_SEC": 0.5})
    with PaperExchange(tmp_path / "px", symbols=("ETHUSDT",), seed=5) as px:
        child = start(px, work)
        try:
            first = wait_for(lambda: pair_of(work), "a pair", child=child)
            before = positions(px)
            child.kill()
            child = start(px, work)
            again = wait_for(lambda: (p := pair_of(work)) and p["adopted"] and p, "the adopted pair", child=child)
            assert again["pair_id"] == first["pair_id"] and positions(px) == before
            db = TradeDB(work / "journal.sqlite")
            assert len(db.trades("dn1")) == 2                       # the restart sent nothing
            t0 = time.monotonic()
            px.admin("POST", "/liquidate", symbol="ETHUSDT", positionSide="LONG")
            wait_for(lambda: positions(px) == {}, "the SHORT leg closed", child=child)
            alone_s = time.monotonic() - t0
            assert alone_s < 5.0, f"the SHORT leg stayed alone {alone_s:.1f} s"
            wait_for(lambda: any(e["event"] == "pair.closed.lone_leg" for e in status(work).get("events", [])),
                     "the event reported", child=child)
            assert child.stop(timeout=15) == 0
        finally:
            child.stop()
            px.admin("DELETE", "/price", symbol="ETHUSDT")
