"""Issue 12 item 14, the dashboard's part: what grows with time stays bounded (children's .out files,
remembered failed logins and sessions, the chart cache), and disk writes never stall the event loop."""
from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from mraster.settings import load_settings
from dashboard.app import child_specs
from dashboard.paths import DashboardPaths
from dashboard.security import MAX_SESSIONS, MAX_TRACKED_CLIENTS, AccessControl
from dashboard.services.configstore import AuditLog, ConfigStore
from dashboard.services.supervisor import Supervisor, rotate_out_file
from dashboard.services.venue import CHART_CACHE_MAX, VenueReader

from tests.dashboard.conftest import async_wait_for
from tests.dashboard.fakes import InMemoryVenue


# ------------------------------------------------------------------ children's .out files
CHATTY = """
    import sys, time
    line = "x" * 1000
    for i in range(5000):
        print(f"{i:05d} {line}", flush=True)
        time.sleep(0.001)
    print("all written", flush=True)
    while True:
        time.sleep(0.05)
"""


async def test_a_chatty_childs_out_file_is_rotated_while_it_runs(workspace):
    """A real child writes 5 MB to stdout; the .out and its two backups stay far below that."""
    command = workspace.script("chatty", CHATTY)
    specs = child_specs(DashboardPaths.from_loaded(workspace.loader()()), {"bot": command}, {})
    sup = Supervisor(specs, stop_timeout=5, out_max_bytes=100_000, out_check_s=0.05, poll_interval=0.05)
    await sup.open()
    try:
        await sup.start("bot")
        out = specs["bot"].out_file
        files = [out, out.with_name("bot.out.1"), out.with_name("bot.out.2")]

        def text(f) -> str:
            try:
                return f.read_text(errors="replace")
            except FileNotFoundError:                             # being rotated right now
                return ""

        def finished() -> bool:
            return any("all written" in text(f) for f in files)
        await async_wait_for(finished, 60, what="the child to write 5 MB")
        await asyncio.sleep(0.2)                                  # one more check of the watcher
        total = sum(f.stat().st_size for f in files if f.exists())
        assert files[1].exists() and files[2].exists(), "rotated into .out.1 and .out.2"
        assert total < 1_500_000, f"{total} bytes kept for 5 MB written"
        assert not out.with_name("bot.out.3").exists()
    finally:
        await sup.stop("bot")
        await sup.close()


async def test_a_big_out_file_is_rotated_when_the_child_starts(workspace):
    from tests.dashboard.conftest import SLEEPER
    specs = child_specs(DashboardPaths.from_loaded(workspace.loader()()), {"bot": workspace.script("s", SLEEPER)}, {})
    out = specs["bot"].out_file
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("old run\n" * 30_000)
    sup = Supervisor(specs, stop_timeout=5, out_max_bytes=100_000, out_check_s=3600)
    await sup.open()
    try:
        await sup.start("bot")
        assert out.with_name("bot.out.1").read_text().startswith("old run")
        assert out.read_text().startswith("--- ") and "old run" not in out.read_text()
    finally:
        await sup.stop("bot")
        await sup.close()


def test_rotation_keeps_the_newest_backups_and_skips_small_files(tmp_path):
    out = tmp_path / "guard.out"
    out.write_text("a" * 10)
    assert not rotate_out_file(out, 100)
    for content in ("first" * 30, "second" * 30, "third" * 30):
        out.write_text(content)
        assert rotate_out_file(out, 100, backups=2)
        assert out.stat().st_size == 0
    assert out.with_name("guard.out.1").read_text() == "third" * 30
    assert out.with_name("guard.out.2").read_text() == "second" * 30
    assert not out.with_name("guard.out.3").exists()


LOGGER = """
    import sys
    from mraster.logs import get_logger, setup_logging
    setup_logging("bot", "INFO", sys.argv[1])
    log = get_logger("bot")
    log.info("cycle.summary", "an ordinary info line")
    log.warning("notice", "a warning worth keeping in the .out")
    print("done", flush=True)
"""


async def test_supervised_children_keep_only_warnings_on_stdout(workspace):
    """The child's JSON lines go to <name>.jsonl; its .out (stdout) does not repeat the INFO ones."""
    command = workspace.script("logger", LOGGER) + (str(workspace.log_dir),)
    specs = child_specs(DashboardPaths.from_loaded(workspace.loader()()), {"bot": command}, {})
    sup = Supervisor(specs, stop_timeout=5, auto_restart=lambda: False)
    await sup.open()
    try:
        await sup.start("bot")
        await async_wait_for(lambda: sup.status("bot")["state"] == "exited", 30, what="the child to finish")
    finally:
        await sup.close()
    out = specs["bot"].out_file.read_text()
    jsonl = (workspace.log_dir / "bot.jsonl").read_text()
    assert "an ordinary info line" in jsonl and "a warning worth keeping" in jsonl
    assert "a warning worth keeping" in out and "an ordinary info line" not in out


# --------------------------------------------------------------------- security maps
def test_failed_logins_from_many_addresses_stay_bounded():
    now = [1_000_000.0]
    access = AccessControl(lambda: "tok", clock=lambda: now[0])
    for i in range(20_000):
        now[0] += 0.001
        access.login_failed(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(access._failures) <= MAX_TRACKED_CLIENTS
    for _ in range(50):
        access.login_failed("192.0.2.1")
    assert len(access._failures["192.0.2.1"]) <= 20 and not access.login_allowed("192.0.2.1")
    now[0] += 61
    assert access.login_allowed("192.0.2.1") and "192.0.2.1" not in access._failures


def test_sessions_stay_bounded_and_expire():
    now = [1_000_000.0]
    access = AccessControl(lambda: "tok", clock=lambda: now[0])
    cookies = []
    for _ in range(MAX_SESSIONS * 3):
        now[0] += 1
        cookies.append(access.make_session())
    assert len(access._sessions) == MAX_SESSIONS
    assert access.check_session(cookies[-1]) and not access.check_session(cookies[0])
    now[0] += 8 * 86400
    assert not access.check_session(cookies[-1])
    access.make_session()
    assert len(access._sessions) == 1


# ------------------------------------------------------------------------ chart cache
async def test_the_chart_cache_keeps_only_the_recent_charts():
    """The in-memory venue stands in for the exchange: only the cache's size is under test."""
    from mraster.settings import default_settings
    venue = InMemoryVenue()
    reader = VenueReader(lambda: default_settings(), ttl=5.0, factory=lambda s: venue)
    try:
        for i in range(CHART_CACHE_MAX * 4):
            for interval in ("1m", "5m"):
                answer = await reader.klines(f"SYM{i}USDT", interval, 100 + i)
                assert answer["error"] == ""
        keys = [k for k in reader.cached_keys if k.startswith("klines:")]
        assert len(keys) == CHART_CACHE_MAX
        assert f"klines:SYM{CHART_CACHE_MAX * 4 - 1}USDT:5m:{100 + CHART_CACHE_MAX * 4 - 1}" in keys
        await reader.positions()
        assert "positions" in reader.cached_keys
    finally:
        await reader.close()


# ----------------------------------------------------------- disk writes off the loop
SLOW_FSYNC_S = 0.3


@pytest.fixture
def slow_disk(monkeypatch):
    """A disk whose fsync takes 0.3 s (a busy or network disk): os.fsync is replaced by a slow one,
    since a real slow disk cannot be had in a test."""
    real = os.fsync
    calls = []

    def slow(fd: int) -> None:
        calls.append(fd)
        time.sleep(SLOW_FSYNC_S)
        real(fd)
    monkeypatch.setattr(os, "fsync", slow)
    return calls


async def largest_stall(work) -> float:
    """Run `work` while a ticker measures the longest time the event loop did not run it."""
    gaps, done = [], asyncio.Event()

    async def tick() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now
    ticker = asyncio.create_task(tick())
    try:
        await work
    finally:
        done.set()
        await ticker
    return max(gaps)


async def test_saving_settings_does_not_block_the_event_loop(workspace, slow_disk):
    loader = workspace.loader()
    store = ConfigStore(loader, loader(), AuditLog(workspace.root / "dashboard_audit.jsonl"))
    stall = await largest_stall(store.apply({"ASTER_LEVERAGE": 4}, who="test"))
    assert len(slow_disk) >= 2                                    # the config file and the audit line
    assert load_settings(env=workspace.env).settings.leverage == 4
    assert json.loads((workspace.root / "dashboard_audit.jsonl").read_text())["changes"][0]["new"] == 4
    assert stall < SLOW_FSYNC_S * 0.8, f"the event loop stood still for {stall:.2f} s"


async def test_saving_sessions_does_not_block_the_event_loop(tmp_path, slow_disk):
    path = tmp_path / "run" / "dashboard_sessions.json"
    access = AccessControl(lambda: "tok", session_file=path)
    cookie = access.make_session()
    stall = await largest_stall(access.save_sessions())
    assert slow_disk and stall < SLOW_FSYNC_S * 0.8, f"the event loop stood still for {stall:.2f} s"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert AccessControl(lambda: "tok", session_file=path).check_session(cookie), "kept across a restart"


def test_the_audit_view_reads_only_the_end_of_a_long_audit_log(tmp_path):
    audit = AuditLog(tmp_path / "dashboard_audit.jsonl")
    with open(audit.path, "w") as fh:
        for i in range(30_000):
            fh.write(json.dumps({"ts": "t", "who": "w", "action": "config.patch",
                                 "changes": [{"name": "ASTER_LEVERAGE", "old": i, "new": i + 1}]}) + "\n")
    assert audit.path.stat().st_size > 2_000_000
    recent = audit.recent(50, tail_bytes=200_000)
    assert len(recent) == 50 and recent[0]["changes"][0]["new"] == 30_000
    assert recent[-1]["changes"][0]["new"] == 29_951
