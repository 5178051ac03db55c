"""Issue 12 items 2 and 3 end to end: the real paper exchange (child process), the real client, and for
the disk a real `python -m bot` child whose file writes really fail.

Disk full is caused for real: RLIMIT_FSIZE of the running bot process is lowered to 1 byte with
prlimit(2) (Python ignores SIGXFSZ, so every write that would grow a file fails with EFBIG, as on a full
disk: the state file's temporary copy, the SQLite journal's WAL, the log file). Permissions cannot be
used: the tests run as root.
"""
from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest

from mraster.domain.types import OrderRequest, OrderType
from mraster.exchange.factory import make_exchange
from paper.testing import PaperExchange
from mraster.journal import Journal
from mraster.settings import load_settings
from mraster.state import read_state_readonly

from tests.bot.test_paper_e2e import run_bot, trading_env

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    """Its own exchange: the faults set here act on every account of the exchange."""
    with PaperExchange(tmp_path_factory.mktemp("paper-ms"), symbols=SYMBOLS, seed=12) as ex:
        yield ex


async def venue(env: dict[str, str]):
    ex = make_exchange(load_settings(env=env).settings)
    try:
        return await ex.positions(), await ex.open_orders()
    finally:
        await ex.close()


async def wait_for(cond, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await cond()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------- item 3
async def test_entry_executed_after_its_lookup_said_unknown_gives_one_position_not_two(px, tmp_path):
    """The paper exchange answers the entry 503 -1007 and executes it 1.5 s later, after the client's
    look-up has answered -2013. Before the fix the client placed it again and both executed: a position
    twice the planned size. Now the entry is sent once, kept pending, and recovered with its brackets."""
    env = trading_env(px, tmp_path, ASTER_MAX_OPEN_GLOBAL="1")
    px.admin("POST", "/faults", late_order=1, late_order_ms=1500)
    try:
        await run_bot(env)
    finally:
        px.admin("DELETE", "/faults")
    (t,) = read_state_readonly(tmp_path / "aster_state.json").open_trades.values()

    async def executed_late():
        log = px.workdir / "logs" / "paper.jsonl"
        return log.exists() and "fault late_order" in log.read_text()
    await wait_for(executed_late, "the late execution")
    j = Journal(tmp_path / "journal.sqlite")
    try:
        planned = Decimal(json.loads(next(o for o in j.orders_for(t.trade_id) if o["role"] == "EN")["request"])
                          ["quantity"])
    finally:
        j.close()
    (pos,) = await _positions(env)
    assert pos.qty == planned, f"position {pos.qty} for one entry of {planned}: the entry was doubled"
    assert t.status == "pending"                                     # kept pending, not sent again
    await run_bot(env)
    st = read_state_readonly(tmp_path / "aster_state.json")
    trade = st.open_trades[t.trade_id]
    positions, orders = await venue(env)
    (pos,) = positions
    j = Journal(tmp_path / "journal.sqlite")
    try:
        sent = [o for o in j.orders_for(t.trade_id) if o["role"] == "EN" and o["action"] == "place"]
    finally:
        j.close()
    assert len(sent) == 1                                            # sent once, never again
    assert pos.qty == Decimal(json.loads(sent[0]["request"])["quantity"]) == trade.qty   # one entry's size
    assert trade.status == "open" and not trade.adopted
    assert {o.client_order_id for o in orders if o.symbol == pos.symbol} >= {trade.client_ids["SL"],
                                                                             trade.client_ids["TP"]}


async def _positions(env):
    positions, _ = await venue(env)
    return positions


# ---------------------------------------------------------------- item 2
class Output:
    """Drains the child's stdout (a pipe: the one place it can still write when files cannot grow)."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._run, args=(proc,), daemon=True)
        self._t.start()

    def _run(self, proc: subprocess.Popen) -> None:
        for raw in proc.stdout:
            self.lines.append(raw.decode("utf-8", "replace"))

    def events(self) -> list[dict]:
        out = []
        for line in list(self.lines):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out


async def test_disk_full_keeps_protecting_refuses_entries_says_why_and_recovers(px, tmp_path):
    env = trading_env(px, tmp_path, ASTER_RUN_ONCE="false", ASTER_LOOP_SLEEP="0.3", ASTER_MAX_OPEN_GLOBAL="1")
    proc = subprocess.Popen([sys.executable, "-m", "bot"], cwd=tmp_path, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = Output(proc)
    state_file = tmp_path / "aster_state.json"
    try:
        def opened():
            st = read_state_readonly(state_file)
            trades = [t for t in st.open_trades.values() if t.status == "open" and "SL" in t.client_ids] if st else []
            return trades[0] if trades else None

        async def opened_async():
            return opened()
        t = await wait_for(opened_async, "a first trade with its stop", 60)

        # ---- the disk fills up: every write that grows a file fails with EFBIG
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))

        async def said_why():
            return any(e.get("event") == "disk.unwritable" and e.get("level") == "ERROR" and "File too large"
                       in e.get("msg", "") for e in out.events())
        await wait_for(said_why, "the bot to say loudly that it cannot write")
        before = state_file.read_bytes()          # any write begun before the limit is over by now
        px.admin("POST", "/orders/cancel", account=env["ASTER_PAPER_API_KEY"], symbol=t.symbol,
                 origClientOrderId=t.client_ids["SL"])

        async def new_stop():
            positions, orders = await venue(env)
            return [o for o in orders if o.symbol == t.symbol and o.placed_type is OrderType.STOP_MARKET and o.is_open]
        (stop,) = await wait_for(new_stop, "the stop placed again while the disk is full")
        assert stop.client_order_id != t.client_ids["SL"]             # a fresh id, not the cancelled one's

        # the position goes away; the bot must not open a new one while it cannot write
        ex = make_exchange(load_settings(env=env).settings)
        try:
            (pos,) = await ex.positions()
            await ex.place_order(OrderRequest(pos.symbol, pos.exit_side, OrderType.MARKET, "manual-close-1",
                                              quantity=pos.qty, reduce_only=True))
        finally:
            await ex.close()

        async def refused():
            return any(e.get("event") == "cycle.summary" and e.get("skips", {}).get("disk_unwritable")
                       for e in out.events())
        await wait_for(refused, "a cycle that refused an entry because of the disk")
        assert await _positions(env) == []
        assert state_file.read_bytes() == before                      # nothing could be written meanwhile
        assert proc.poll() is None                                    # still running: no crash, no restart

        # ---- the disk has room again
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

        async def recovered():
            st = read_state_readonly(state_file)
            return st if st and not st.disk_problem and any(
                "can be written again" in n["msg"] for n in st.notices) else None
        st = await wait_for(recovered, "the state file to be written again")
        assert any("cannot be written" in n["msg"] and n["level"] == "error" for n in st.notices)
        closed = {c.trade_id: c for c in st.closed_trades}[t.trade_id]
        assert closed.exit_reason == "manual"

        async def journal_agrees():
            j = Journal(tmp_path / "journal.sqlite")
            try:
                row = j.trade_row(t.trade_id)
                return row if row and row["status"] == "closed" else None
            finally:
                j.close()
        row = await wait_for(journal_agrees, "the journal to be rewritten after the outage")
        assert row["realized_pnl"] == str(closed.realized_pnl)
        await wait_for(opened_async, "entries to resume", 60)
        assert proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
