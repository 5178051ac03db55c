"""Issue 12 item 13: live settings reach the bot's exchange client, path changes say that the
dashboard itself needs a restart, and `uvicorn dashboard.app:app` writes the dashboard's log file."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mraster.exchange.errors import ExchangeError
from mraster.exchange.factory import make_exchange
from bot.runtime.loop import Bot
from mraster.settings import load_settings

from tests.dashboard.conftest import ServerThread, async_wait_for, wait_for


class FailingVenue:
    """A real HTTP server on loopback whose clock endpoint always answers 503: every attempt the
    client makes is counted, so the retry count in force is observed, not read from an attribute."""

    def __init__(self) -> None:
        self.hits = 0

        async def time(request: Request) -> JSONResponse:
            self.hits += 1
            return JSONResponse({"code": -1001, "msg": "internal error"}, status_code=503)

        self.server = ServerThread(Starlette(routes=[Route("/fapi/v1/time", time)])).start()

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def failing_venue():
    venue = FailingVenue()
    yield venue
    venue.stop()


async def attempts(client, venue: FailingVenue) -> int:
    before = venue.hits
    with pytest.raises(ExchangeError):
        await client.sync_time()
    return venue.hits - before


async def test_retries_backoff_and_kline_cache_changed_on_the_page_reach_the_bots_client(
        workspace, serve, client_for, failing_venue, monkeypatch):
    monkeypatch.chdir(workspace.root)                     # the bot's relative files land in the workspace
    workspace.write_config({"ASTER_PAPER": True, "ASTER_PAPER_URL": failing_venue.server.url,
                            "ASTER_HTTP_BACKOFF": 0.0})
    env = dict(workspace.env)
    bot = Bot(load_settings(env=env), env=env, exchange_factory=make_exchange)
    bot.rt = bot._build()
    try:
        client = bot.rt.exchange
        assert await attempts(client, failing_venue) == 3          # the default: 2 retries after the first try
        api = client_for(serve())
        resp = api.patch("/api/config", json={"ASTER_HTTP_RETRIES": 0, "ASTER_KLINE_CACHE_SEC": 5,
                                              "ASTER_HTTP_BACKOFF": 0.01})
        assert resp.status_code == 200, resp.text
        assert set(resp.json()["applies_live"]) == {"ASTER_HTTP_RETRIES", "ASTER_KLINE_CACHE_SEC",
                                                    "ASTER_HTTP_BACKOFF"}
        bot.reload_settings()                                       # what the loop does before every cycle
        assert await attempts(client, failing_venue) == 1
        assert client._core.retry.backoff_s == 0.01 and client._klines.ttl_s == 5.0
        api.patch("/api/config", json={"ASTER_HTTP_RETRIES": 4, "ASTER_HTTP_BACKOFF": 0.0})
        bot.reload_settings()
        assert await attempts(client, failing_venue) == 5
    finally:
        bot.rt.journal.close()
        await bot.rt.exchange.close()


@pytest.mark.parametrize("name, value", [("ASTER_STATE_FILE", "other_state.json"), ("ASTER_LOG_DIR", "logs2"),
                                         ("ASTER_RUN_DIR", "run2")])
def test_a_changed_path_the_dashboard_reads_says_the_dashboard_needs_a_restart(
        workspace, serve, client_for, name, value):
    api = client_for(serve())
    resp = api.patch("/api/config", json={name: value})
    assert resp.status_code == 200, resp.text
    needs = resp.json()["needs_restart"]
    assert needs["dashboard"] == [name] and "bot" in needs


def test_journal_path_needs_no_dashboard_restart(workspace, serve, client_for):
    api = client_for(serve())
    needs = api.patch("/api/config", json={"ASTER_JOURNAL_FILE": "j2.sqlite"}).json()["needs_restart"]
    assert "dashboard" not in needs and needs["bot"] == ["ASTER_JOURNAL_FILE"]


def test_uvicorn_dashboard_app_writes_its_own_log_file(workspace):
    """`uvicorn dashboard.app:app` as a real process: its lines land in <ASTER_LOG_DIR>/dashboard.jsonl."""
    workspace.write_config({"ASTER_PAPER": False})
    env = {**workspace.env, "PYTHONPATH": os.environ.get("PYTHONPATH", ""), "HOME": str(workspace.root)}
    out = open(workspace.root / "uvicorn.out", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "dashboard.app:app", "--host", "127.0.0.1",
                             "--port", "0"], cwd=workspace.root, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    log_file = workspace.log_dir / "dashboard.jsonl"
    try:
        def started() -> bool:
            if proc.poll() is not None:
                raise AssertionError((workspace.root / "uvicorn.out").read_text())
            return log_file.exists() and "dashboard.start" in log_file.read_text()
        wait_for(started, 30, what="the dashboard's log line")
        lines = [json.loads(line) for line in log_file.read_text().splitlines()]
        start = next(line for line in lines if line["event"] == "dashboard.start")
        assert start["src"] == "dashboard" and "LIVE" in start["msg"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        out.close()


async def test_the_dashboards_own_venue_client_follows_live_settings_too(failing_venue):
    from mraster.settings import default_settings
    from dashboard.services.venue import VenueReader
    holder = [default_settings().with_values(paper=True, paper_url=failing_venue.server.url, http_backoff=0.0)]
    reader = VenueReader(lambda: holder[0], ttl=0.0, factory=make_exchange)
    try:
        await reader.positions()
        await async_wait_for(lambda: reader._cache["positions"].task.done(), what="the first venue call")
        client = reader._exchange
        assert client._core.retry.retries == 2
        holder[0] = holder[0].with_values(http_retries=0, kline_cache_sec=7.0)
        await reader.positions()
        assert reader._exchange is client and client._core.retry.retries == 0 and client._klines.ttl_s == 7.0
    finally:
        await reader.close()
