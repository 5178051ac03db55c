"""End to end against the real paper exchange (a child process on a free port) and the real client:
several cycles that open trades with brackets resting on the venue, reconciliation after a stop,
an adoption and a liquidation that happened while the bot was down, SIGTERM mid-cycle of a real
`python -m bot` process, and `mraster bot --once` starting its own paper exchange.

Every test trades on its own paper account (its own API key), so they share one exchange safely.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from mraster.domain.types import MarginType, OrderRequest, OrderType, Side
from mraster.exchange.factory import make_exchange
from paper.testing import PaperExchange
from mraster.journal import Journal
from bot.runtime.loop import Bot
from mraster.settings import load_settings
from mraster.state import StateStore, read_state_readonly

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
_accounts = itertools.count(1)
pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("paper"), symbols=SYMBOLS, seed=11) as ex:
        yield ex


def trading_env(px: PaperExchange, work: Path, **extra: str) -> dict[str, str]:
    """Settings that make the bot trade at once on the synthetic market (loose filters), in `work`."""
    env = {**px.env(),
           "ASTER_PAPER_API_KEY": f"bot-e2e-{os.getpid()}-{next(_accounts)}", "ASTER_PAPER_API_SECRET": "s",
           "ASTER_CONFIG_FILE": str(work / "dashboard_config.json"), "ASTER_DOTENV_FILE": str(work / "none.env"),
           "ASTER_STATE_FILE": str(work / "aster_state.json"), "ASTER_JOURNAL_FILE": str(work / "journal.sqlite"),
           "ASTER_LOG_DIR": str(work / "logs"), "ASTER_RUN_DIR": str(work / "run"),
           "ASTER_INCLUDE_SYMBOLS": ",".join(SYMBOLS), "ASTER_INTERVAL": "1m", "ASTER_HTF_INTERVAL": "5m",
           "ASTER_KLINES": "100", "ASTER_RSI_BUY_MIN": "50", "ASTER_RSI_SELL_MAX": "50",
           "ASTER_ALLOW_TREND_ALIGN": "false", "ASTER_MIN_EDGE_R": "-10", "ASTER_FUNDING_FILTER_ENABLED": "false",
           "ASTER_BANDIT_ENABLED": "false", "ASTER_MAX_OPEN_GLOBAL": "2", "ASTER_LOOP_SLEEP": "0.2",
           "ASTER_RUN_ONCE": "true", "ASTER_SL_ATR_MULT": "3", "ASTER_TP_ATR_MULT": "6"}
    env.update(extra)
    return env


async def run_bot(env: dict[str, str], cycles: int = 1) -> Bot:
    bot = Bot(load_settings(env=env), env=env)
    if cycles == 1:
        assert await bot.run() == 0
        return bot
    task = asyncio.ensure_future(bot.run())
    deadline = time.monotonic() + 60
    while bot.cycles_done < cycles:
        assert not task.done(), "the bot stopped early"
        assert time.monotonic() < deadline, "cycles did not complete in time"
        await asyncio.sleep(0.05)
    bot.request_stop(signal.SIGTERM)
    assert await asyncio.wait_for(task, 30) == 0
    return bot


async def venue_view(env: dict[str, str]):
    ex = make_exchange(load_settings(env=env).settings)
    try:
        return await ex.positions(), await ex.open_orders()
    finally:
        await ex.close()


def wait_until(cond, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def until_flat(env: dict[str, str], what: str, timeout: float = 20.0) -> None:
    ex = make_exchange(load_settings(env=env).settings)
    deadline = time.monotonic() + timeout
    try:
        while await ex.positions():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.05)
    finally:
        await ex.close()


def assert_state_equals_venue(state, positions, orders) -> None:
    assert {t.symbol for t in state.open_trades.values()} == {p.symbol for p in positions}
    for t in state.open_trades.values():
        assert t.status == "open"
        pos = next(p for p in positions if p.symbol == t.symbol)
        assert t.qty == pos.qty and (t.side == "LONG") == pos.is_long
        mine = {o.client_order_id: o for o in orders if o.symbol == t.symbol}
        stop, tp = mine[t.client_ids["SL"]], mine[t.client_ids["TP"]]
        assert stop.placed_type is OrderType.STOP_MARKET and stop.stop_price == t.stop_price and stop.close_position
        assert tp.placed_type is OrderType.TAKE_PROFIT_MARKET and tp.stop_price == t.take_profit_price
        assert stop.side is tp.side is (Side.SELL if t.side == "LONG" else Side.BUY)


async def test_several_cycles_open_trades_with_brackets_and_state_equals_venue(px, tmp_path):
    env = trading_env(px, tmp_path, ASTER_RUN_ONCE="false")
    bot = await run_bot(env, cycles=3)
    st = StateStore(tmp_path / "aster_state.json").load()
    positions, orders = await venue_view(env)
    assert len(positions) == 2 and bot.cycles_done >= 3 and st.cycle >= 3
    assert_state_equals_venue(st, positions, orders)
    assert st.feed == "synthetic" and st.paper["symbols"] == list(SYMBOLS)
    assert len(st.equity_curve) >= 3 and st.last_scan["summary"]["scanned"] == 3
    j = Journal(tmp_path / "journal.sqlite")
    for t in st.open_trades.values():
        assert j.fill_totals(t.trade_id)["count"] >= 1
        assert [o["role"] for o in j.orders_for(t.trade_id)][:3] == ["EN", "SL", "TP"]
    j.close()


async def test_stop_hit_while_the_bot_was_down_is_reconciled(px, tmp_path):
    env = trading_env(px, tmp_path, ASTER_MAX_OPEN_GLOBAL="1")
    await run_bot(env)
    (t,) = StateStore(tmp_path / "aster_state.json").load().open_trades.values()
    through = t.stop_price * (Decimal("0.995") if t.side == "LONG" else Decimal("1.005"))
    px.admin("POST", "/price", symbol=t.symbol, price=str(through), mark=str(through))
    try:
        await until_flat(env, "the stop to close the position")
    finally:
        px.admin("DELETE", "/price", symbol=t.symbol)
    await run_bot({**env, "ASTER_MAX_OPEN_GLOBAL": "0"})
    st = StateStore(tmp_path / "aster_state.json").load()
    assert not st.open_trades
    (closed,) = st.closed_trades
    assert closed.trade_id == t.trade_id and closed.exit_reason == "stop" and "-SL" in closed.exit_detail
    assert closed.realized_pnl < 0 and closed.fees > 0 and closed.r_multiple < -0.8
    assert st.last_scan["reconcile"]["closed"] == [t.trade_id]


async def test_unknown_position_is_adopted_then_its_liquidation_is_recognised(px, tmp_path):
    env = trading_env(px, tmp_path, ASTER_MAX_OPEN_GLOBAL="0")
    ex = make_exchange(load_settings(env=env).settings)
    try:
        now = f"{(await ex.mark_price('ETHUSDT')).mark_price:.2f}"
        # held still until the crash below: a random walk must not reach the adopted stop first
        px.admin("POST", "/price", symbol="ETHUSDT", price=now, mark=now)
        await ex.set_margin_type("ETHUSDT", MarginType.ISOLATED)
        await ex.set_leverage("ETHUSDT", 20)
        await ex.place_order(OrderRequest("ETHUSDT", Side.BUY, OrderType.MARKET, "manual-buy-1",
                                          quantity=Decimal("0.5")))
    finally:
        await ex.close()
    try:
        await run_bot(env)
        st = StateStore(tmp_path / "aster_state.json").load()
        (adopted,) = st.open_trades.values()
        assert adopted.trade_id.startswith("ETHUSDT.gb") and adopted.adopted and adopted.side == "LONG"
        assert adopted.qty == Decimal("0.5")
        positions, orders = await venue_view(env)
        assert_state_equals_venue(st, positions, orders)
        # the stop disappears (as if cancelled by hand), then the venue liquidates the position
        px.admin("POST", "/orders/cancel", account=env["ASTER_PAPER_API_KEY"], symbol="ETHUSDT",
                 origClientOrderId=adopted.client_ids["SL"])
        crash = str((adopted.entry_price * Decimal("0.9")).quantize(Decimal("0.01")))   # far below 20x liquidation
        px.admin("POST", "/price", symbol="ETHUSDT", price=crash, mark=crash)
        await until_flat(env, "the liquidation")
    finally:
        px.admin("DELETE", "/price", symbol="ETHUSDT")
    await run_bot(env)
    st = StateStore(tmp_path / "aster_state.json").load()
    (closed,) = st.closed_trades
    assert closed.trade_id == adopted.trade_id and closed.exit_reason == "liquidation"
    assert closed.realized_pnl < 0 and not st.open_trades


def _bot_process(env: dict[str, str], cwd: Path) -> subprocess.Popen:
    out = open(cwd / "bot.out", "wb")
    return subprocess.Popen([sys.executable, "-m", "bot"], cwd=cwd, env={**os.environ, **env}, stdout=out,
                            stderr=subprocess.STDOUT)


def _log_events(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def test_sigterm_mid_cycle_finishes_the_cycle_and_exits_0(px, tmp_path):
    env = trading_env(px, tmp_path, ASTER_RUN_ONCE="false", ASTER_LOOP_SLEEP="30")
    log = tmp_path / "logs" / "bot.jsonl"
    px.admin("POST", "/faults", latency_ms=150)          # every request slow: a cycle takes seconds
    try:
        proc = _bot_process(env, tmp_path)
        wait_until(lambda: any(e["event"] == "bot.started" for e in _log_events(log)), "the bot to start", 30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        px.admin("DELETE", "/faults")
    events = [e["event"] for e in _log_events(log)]
    assert events.index("bot.stopping") < events.index("cycle.summary") < events.index("bot.stopped")
    summary = next(e for e in _log_events(log) if e["event"] == "cycle.summary")
    assert summary["entries"] == 0 and summary["skips"].get("stopping", 0) >= 1
    st = read_state_readonly(tmp_path / "aster_state.json")
    assert st is not None and st.cycle == 1 and not st.open_trades


def test_second_sigterm_stops_at_once_with_a_consistent_state(px, tmp_path):
    env = trading_env(px, tmp_path, ASTER_RUN_ONCE="false", ASTER_LOOP_SLEEP="30")
    log = tmp_path / "logs" / "bot.jsonl"
    px.admin("POST", "/faults", latency_ms=300)
    try:
        proc = _bot_process(env, tmp_path)
        wait_until(lambda: any(e["event"] == "bot.started" for e in _log_events(log)), "the bot to start", 30)
        proc.send_signal(signal.SIGTERM)
        wait_until(lambda: any(e["event"] == "bot.stopping" for e in _log_events(log)), "the first signal")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert time.monotonic() - t0 < 10
    finally:
        px.admin("DELETE", "/faults")
    events = [e["event"] for e in _log_events(log)]
    assert "bot.stopping_now" in events and "cycle.summary" not in events
    st = read_state_readonly(tmp_path / "aster_state.json")
    assert st is not None and all(t.status != "pending" for t in st.open_trades.values())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mraster_bot_once_starts_its_own_paper_exchange(tmp_path):
    """`ASTER_PAPER=true ASTER_RUN_ONCE=true mraster bot` on a fresh directory: default settings except the
    paper exchange's address and files, so nothing touches the user's files or the network."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASTER_", "FAST_TP", "FASTTP"))}
    env.update({"ASTER_PAPER": "true", "ASTER_RUN_ONCE": "true", "ASTER_PAPER_URL": f"http://127.0.0.1:{port}",
                "ASTER_PAPER_FEED": "synthetic", "ASTER_PAPER_DB": str(tmp_path / "paper.sqlite")})
    proc = subprocess.run([sys.executable, "-m", "commands.main", "bot"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=90)
    pid_file = tmp_path / "run" / "paper.pid"
    info = json.loads(pid_file.read_text())
    try:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        events = _log_events(tmp_path / "logs" / "bot.jsonl")
        summary = next(e for e in events if e["event"] == "cycle.summary")
        assert summary["scanned"] == 12 and "scanned" in summary["msg"] and "weight" in summary["msg"]
        assert any(e["event"] == "paper.starting" for e in events)
        os.kill(info["pid"], 0)                            # still running after the bot exited
        assert (tmp_path / "aster_state.json").exists() and (tmp_path / "logs" / "paper.out").exists()
    finally:
        os.kill(info["pid"], signal.SIGTERM)
