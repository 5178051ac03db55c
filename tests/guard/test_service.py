"""The guard's loop against an in-memory venue: events and timer drive repairs, errors back off as
the venue asks, the loop never exits on its own, and the status file tells the dashboard all that."""
from __future__ import annotations

import asyncio
import json
import random
import time
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

from mraster.domain.ids import Role, client_order_id, parse_client_order_id, stamp_of
from mraster.domain.types import (
    ExecutionType, OrderStatus, OrderType, OrderUpdate, Side, StreamResynced,
)
from mraster.exchange.errors import BannedError, RateLimitedError, RetryableError
from guard.main import SettingsReloader
from guard.service import GuardService

from tests.guard.polling import until
from tests.guard.test_reconcile import TRADE, long_trade, write_state

D = Decimal
SL, TP = client_order_id(TRADE, Role.STOP), client_order_id(TRADE, Role.TAKE_PROFIT)


def stop_of(fake):
    return [o for o in fake.open("BTCUSDT") if o.type is OrderType.STOP_MARKET]


def service(fake, settings, **kw) -> GuardService:
    return GuardService(fake, settings, mode="paper", state_path=settings.state_file,
                        status_path=Path(settings.run_dir) / "guard_status.json", rng=random.Random(7), **kw)


@asynccontextmanager
async def running(svc: GuardService):
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


def venue_cancels(fake, order) -> OrderUpdate:
    done = fake._finish(order.order_id, OrderStatus.CANCELED)
    return OrderUpdate(event_time=1, transaction_time=1, order=done, execution_type=ExecutionType.CANCELED)


def read_status(settings) -> dict:
    return json.loads((Path(settings.run_dir) / "guard_status.json").read_text())


async def test_user_data_event_restores_a_cancelled_stop_long_before_the_timer(fake, settings):
    settings = settings.with_values(guard_interval=30.0)
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    svc = service(fake, settings)
    async with running(svc) as task:
        await until(lambda: len(fake.open()) == 2, what="initial brackets")
        await until(lambda: fake.stream_queue is not None, what="stream opened")
        fake.stream_queue.put_nowait(StreamResynced(time=1))
        await until(lambda: svc._stream_ok, what="stream resynced")
        fake.calls.clear()
        fake.stream_queue.put_nowait(venue_cancels(fake, stop_of(fake)[0]))
        took = await until(lambda: len(stop_of(fake)) == 1, timeout=2.0, what="stop restored")
        assert took < 1.0 and not task.done()
        assert ("open_orders", "BTCUSDT") in fake.calls          # a check of that symbol, not a sweep
        restored = stop_of(fake)[0].client_order_id               # the trade's stop under a new id: SL named
        assert parse_client_order_id(restored) == (TRADE, Role.STOP) and restored != SL   # the cancelled one
    status = read_status(settings)
    assert status["stream"]["connected"] is False and status["repairs_total"] == 3   # stopped: stream closed


async def test_timer_alone_repairs_when_there_is_no_stream(fake, settings):
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    svc = service(fake, settings, use_stream=False)
    async with running(svc):
        await until(lambda: len(fake.open()) == 2, what="initial brackets")
        venue_cancels(fake, stop_of(fake)[0])
        took = await until(lambda: len(stop_of(fake)) == 1, timeout=3.0, what="stop restored by the timer")
        assert took <= settings.guard_interval + 1.0
    assert ("user_stream", None) not in fake.calls


async def test_transient_errors_back_off_and_the_guard_keeps_going(fake, settings):
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    for _ in range(3):
        fake.fail["positions"].append(RetryableError("server error", status=503))
    fake.fail["place_order"].append(RetryableError("server error", status=502))
    svc = service(fake, settings, use_stream=False)
    async with running(svc) as task:
        await until(lambda: len(fake.open()) == 2, timeout=10.0, what="brackets despite errors")
        assert not task.done()
    status = read_status(settings)
    assert "503" in status["last_error"] or "502" in status["last_error"]
    assert status["positions"][0]["protected"] is True


async def test_rate_limit_is_waited_out_as_the_venue_asks(fake, settings):
    fake.fail["positions"].append(RateLimitedError("Too many requests", retry_after=0.6, status=429))
    svc = service(fake, settings, use_stream=False)
    async with running(svc):
        await until(lambda: sum(1 for c in fake.calls if c[0] == "positions") >= 2, what="second attempt")
    times = [t for name, t in fake.call_times if name == "positions"]
    assert times[1] - times[0] >= 0.6


async def test_a_ban_stops_every_request_until_it_ends(fake, settings):
    fake.fail["positions"].append(BannedError("banned", until_ms=fake.now_ms() + 800, status=418))
    svc = service(fake, settings, use_stream=False)
    async with running(svc):
        await until(lambda: len(fake.call_times) >= 2, what="a request after the ban")
        status = read_status(settings)
    first, second = fake.call_times[0][1], fake.call_times[1][1]
    assert second - first >= 0.8
    assert "banned" in status["last_error"]


async def test_an_unexpected_exception_is_logged_and_the_loop_survives(fake, settings):
    fake.fail["positions"].append(ValueError("a bug somewhere"))
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    svc = service(fake, settings, use_stream=False)
    async with running(svc) as task:
        await until(lambda: len(fake.open()) == 2, what="brackets after the error")
        assert not task.done()


async def test_a_failing_stream_is_reopened_while_the_timer_keeps_working(fake, settings):
    svc = service(fake, settings)
    async with running(svc):
        await until(lambda: fake.stream_queue is not None, what="stream opened")
        fake.stream_queue.put_nowait(ConnectionError("socket closed"))
        await until(lambda: sum(1 for c in fake.calls if c[0] == "user_stream") >= 2, what="stream reopened")
    assert fake.streams[0].closed


async def test_status_file_has_the_agreed_schema(fake, settings):
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    fake.account_info = fake.account_info.__class__(D(1000), D(0), D("500"), D("100"), D(0), D(0))
    svc = service(fake, settings, use_stream=False)
    async with running(svc):
        await until(lambda: len(fake.open()) == 2, what="brackets")
        await until(lambda: (Path(settings.run_dir) / "guard_status.json").exists(), what="the status file")
        before = read_status(settings)["heartbeat_ms"]
        await until(lambda: read_status(settings)["heartbeat_ms"] > before, what="a later heartbeat")
        status = read_status(settings)
    assert status["schema_version"] == 1 and status["mode"] == "paper" and isinstance(status["pid"], int)
    assert status["started_ms"] <= status["heartbeat_ms"] <= int(time.time() * 1000)
    assert set(status["stream"]) >= {"connected", "age_s"}
    (p,) = status["positions"]
    assert (p["symbol"], p["side"], p["qty"], p["entry_price"], p["protected"]) == ("BTCUSDT", "LONG", "0.5",
                                                                                    "30000", True)
    assert p["stop"] == {"client_id": SL, "order_id": p["stop"]["order_id"], "price": "29000", "ok": True,
                         "type": "STOP_MARKET"}
    assert p["take_profit"]["client_id"] == TP and p["take_profit"]["ok"]
    assert status["repairs_total"] == 2
    assert [a["action"] for a in status["recent_actions"]] == ["bracket.placed", "bracket.placed"]
    assert all(set(a) == {"time_ms", "symbol", "action", "reason"} for a in status["recent_actions"])
    assert status["kill_switch"]["enabled"] and status["kill_switch"]["threshold"] == 1.2
    assert status["kill_switch"]["safety_multiple"] == 5.0
    assert status["last_error"] == ""


async def test_run_once_and_flatten(fake, settings):
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    fake.fail["positions"].append(RetryableError("server error", status=500))
    report = await service(fake, settings).run_once()
    assert report.settled and all(v.protected for v in report.views) and len(fake.open()) == 2
    report = await service(fake, settings).flatten()
    assert not fake.positions_by_key and fake.open() == []
    closes = [c[1] for c in fake.calls if c[0] == "place_order" and c[1].type is OrderType.MARKET]
    assert [parse_client_order_id(c.client_order_id) for c in closes] == [(TRADE, Role.CLOSE)]
    assert stamp_of(closes[0].client_order_id), "a close's id is new, never the fixed one an earlier close had"
    assert closes[0].side is Side.SELL and closes[0].reduce_only


async def test_live_settings_are_reloaded_when_the_config_file_changes(tmp_path):
    from mraster.settings import load_settings
    config = tmp_path / "dashboard_config.json"
    config.write_text(json.dumps({"ASTER_KILL_SAFETY_MULTIPLE": 1.2}))
    cli = {"ASTER_CONFIG_FILE": str(config), "ASTER_DOTENV_FILE": str(tmp_path / ".env")}
    reload = SettingsReloader(load_settings(cli=cli), cli)
    assert reload() is None
    config.write_text(json.dumps({"ASTER_KILL_SAFETY_MULTIPLE": 1.5, "ASTER_WORKING_TYPE": "CONTRACT_PRICE",
                                  "ASTER_PAPER_SEED": 9}))
    fresh = reload()
    assert fresh.kill_safety_multiple == 1.5 and fresh.working_type == "CONTRACT_PRICE"
    assert fresh.paper_seed == 42                     # not live: applies after a restart only
    assert reload() is None


async def test_the_venue_echoing_our_own_actions_does_not_trigger_checks(fake, settings):
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    svc = service(fake, settings)
    await svc.reconciler.check()
    (sl,) = stop_of(fake)
    echo = OrderUpdate(event_time=1, transaction_time=1, order=sl, execution_type=ExecutionType.NEW)
    svc.on_event(echo)
    assert not svc._pending                                   # our own placement coming back
    svc.on_event(echo)
    assert svc._pending == {"BTCUSDT"}                        # each echo is matched once only
    svc._pending.clear()
    svc._pending_since = None
    svc.on_event(venue_cancels(fake, sl))                     # the venue's cancel is news
    assert svc._pending == {"BTCUSDT"}


async def test_near_the_kill_threshold_the_guard_looks_every_second(fake, settings):
    """Issue 12 item 9: with the margin multiple within 1.5 x the threshold the account is read every
    second instead of every ASTER_GUARD_INTERVAL (the mark price itself brings no event)."""
    settings = settings.with_values(guard_interval=30.0)
    fake.set_position("BTCUSDT", "0.5", "30000")
    fake.account_info = fake.account_info.__class__(D(1000), D(0), D("170"), D("100"), D(0), D(0))   # 1.7
    svc = service(fake, settings, use_stream=False)
    async with running(svc):
        await until(lambda: sum(1 for c in fake.calls if c[0] == "account") >= 3, 5, "three account reads")
