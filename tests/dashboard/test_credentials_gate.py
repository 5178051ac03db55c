"""Live mode: the dashboard lets the venue judge the credentials (one harmless signed read) before it
starts the bot or the guard, refuses with the diagnosis, and shows the profile and the last result.

Real parts: a paper exchange child in the aster-v3 profile with one registered API wallet (agent) plays
the live venue on 127.0.0.1; the dashboard is a real uvicorn server; bot and guard are small sleeper
scripts (what is tested is the dashboard's gate, not the engines)."""
from __future__ import annotations

import json
import logging
import random

import pytest
from eth_account import Account

from mraster.logs import JsonFormatter
from paper.testing import PaperExchange
from tests.dashboard.conftest import SLEEPER


def keypair(rng: random.Random):
    return Account.from_key(bytes(rng.getrandbits(8) for _ in range(32)))


@pytest.fixture(scope="module")
def v3venue(tmp_path_factory):
    rng = random.Random(714)
    user, agent, stranger = keypair(rng), keypair(rng), keypair(rng)
    with PaperExchange(tmp_path_factory.mktemp("v3gate"), symbols=("BTCUSDT",), seed=7, profile="aster-v3",
                       env={"ASTER_PAPER_AGENTS": f"{user.address}:{agent.address}"}) as px:
        px.user, px.agent, px.stranger = user, agent, stranger
        yield px


@pytest.fixture
def children(workspace):
    sleeper = workspace.script("sleeper", SLEEPER)
    return {"bot": sleeper + ("bot",), "guard": sleeper + ("guard",), "paper": sleeper + ("paper",)}


@pytest.fixture
def dashboard_log(workspace):
    """The dashboard's own lines into <log dir>/dashboard.jsonl, where the activity feed reads them
    (what `mraster dashboard` sets up at start; in-process servers of the tests do not)."""
    workspace.log_dir.mkdir(exist_ok=True)
    handler = logging.FileHandler(workspace.log_dir / "dashboard.jsonl", encoding="utf-8")
    handler.setFormatter(JsonFormatter("dashboard"))
    logger = logging.getLogger("dashboard.credentials")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield
    logger.removeHandler(handler)
    handler.close()


def live_v3(workspace, venue, key_holder) -> None:
    workspace.write_config({"ASTER_PAPER": False, "ASTER_VENUE_PROFILE": "aster-v3",
                            "ASTER_EXCHANGE_BASE": venue.url, "ASTER_WS_BASE": venue.ws_url,
                            "ASTER_V3_USER": venue.user.address, "ASTER_V3_SIGNER": key_holder.address,
                            "ASTER_RUN_DIR": str(workspace.run_dir)})
    workspace.dotenv_file.write_text(f"ASTER_V3_SIGNER_KEY={key_holder.key.hex()}\n")


def states(api) -> dict[str, str]:
    return {name: p["state"] for name, p in api.get("/api/processes").json()["processes"].items()}


def test_unregistered_signer_is_refused_with_the_diagnosis_and_a_good_one_starts(
        workspace, serve, client_for, children, v3venue, dashboard_log):
    live_v3(workspace, v3venue, v3venue.stranger)
    server = serve(commands=children, exchange_factory=None)
    api = client_for(server)
    assert api.get("/api/account").json()["check"]["state"] == "unchecked"

    refused = api.post("/api/all/start")
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "approved, unexpired API wallet (agent)" in detail and "-1002" in detail
    assert states(api) == {"bot": "stopped", "guard": "stopped", "paper": "stopped"}
    assert api.post("/api/guard/start").status_code == 409, "a refused signer cannot guard either"
    assert api.post("/api/bot/restart").status_code == 409
    assert states(api)["guard"] == "stopped"

    account = api.get("/api/state").json()["account"]
    assert account["venue_profile"] == "aster-v3" and account["mode"] == "live"
    assert f"API wallet {v3venue.stranger.address} of {v3venue.user.address}" in account["summary"]
    assert account["check"]["state"] == "refused" and "approved, unexpired API wallet" in account["check"]["text"]
    feed = api.get("/api/logs", params={"activity": "true"}).json()["lines"]
    assert any(line["event"] == "credentials.refused" and "approved, unexpired API wallet" in line["msg"]
               for line in feed), feed

    # the fix: the approved agent's key (a settings change runs the check again at once)
    fixed = api.patch("/api/config", json={"ASTER_V3_SIGNER": v3venue.agent.address,
                                           "ASTER_V3_SIGNER_KEY": v3venue.agent.key.hex()})
    assert fixed.status_code == 200, fixed.text
    assert api.get("/api/account").json()["check"]["state"] == "stale"
    started = api.post("/api/all/start")
    assert started.status_code == 200, started.text
    assert started.json()["status"]["state"] == "running" and started.json()["also_started"] == ["guard"]
    account = api.get("/api/account").json()
    assert account["check"]["state"] == "ok" and "signed read OK (aster-v3): USDT" in " ".join(account["check"]["lines"])
    gate = server.app.state.services.credentials
    runs = gate.runs
    assert api.post("/api/bot/restart").status_code == 200 and gate.runs == runs, "a passed check is kept a while"
    assert api.post("/api/account/check").json()["check"]["state"] == "ok" and gate.runs == runs + 1

    everything = json.dumps([api.get(p).json() for p in ("/api/account", "/api/state", "/api/processes")])
    for secret in (v3venue.agent.key.hex(), v3venue.stranger.key.hex()):
        assert secret[2:] not in everything and secret[2:] not in (workspace.log_dir / "dashboard.jsonl").read_text()
    for name in ("bot", "guard"):
        api.post(f"/api/{name}/stop")


def test_an_unreachable_venue_blocks_the_bot_but_not_the_guard(workspace, serve, client_for, children, v3venue):
    live_v3(workspace, v3venue, v3venue.agent)
    workspace.write_config({**json.loads(workspace.config_file.read_text()),
                            "ASTER_EXCHANGE_BASE": "http://127.0.0.1:9"})      # nothing listens there
    api = client_for(serve(commands=children, exchange_factory=None))
    refused = api.post("/api/bot/start")
    assert refused.status_code == 409 and "cannot read the venue clock" in refused.json()["detail"]
    assert states(api)["bot"] == "stopped" and states(api)["guard"] == "stopped"
    assert api.get("/api/account").json()["check"]["state"] == "unreachable"
    guard = api.post("/api/guard/start")
    assert guard.status_code == 200 and guard.json()["status"]["state"] == "running"
    api.post("/api/guard/stop")


def test_paper_mode_is_not_checked(workspace, serve, client_for, children):
    server = serve(commands=children)          # paper mode; the venue factory of these tests always fails
    api = client_for(server)
    started = api.post("/api/all/start")
    assert started.status_code == 200 and started.json()["status"]["state"] == "running"
    assert api.get("/api/account").json()["check"]["state"] == "paper"
    assert server.app.state.services.credentials.runs == 0
    for name in ("bot", "guard"):
        api.post(f"/api/{name}/stop")


def test_a_signature_for_the_wrong_chain_is_named(workspace, serve, client_for, children, v3venue):
    live_v3(workspace, v3venue, v3venue.agent)
    workspace.write_config({**json.loads(workspace.config_file.read_text()), "ASTER_V3_NETWORK": "testnet"})
    api = client_for(serve(commands=children, exchange_factory=None))
    refused = api.post("/api/all/start")
    assert refused.status_code == 409 and "chain id 714" in refused.json()["detail"]
    assert "mainnet needs 1666" in refused.json()["detail"]
    assert states(api)["bot"] == "stopped" and states(api)["guard"] == "stopped"
