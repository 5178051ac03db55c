"""Issue 12 item 15: path settings confined to the working directory, a confirmation before the venue
moves to an unknown host, logout that ends the session on the server, HTTPS, and no token over plain
HTTP on a network address unless the operator opts in."""
from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn

from mraster.settings import SettingsError, load_settings
from mraster.settings.confine import PACKAGE_DATA
from dashboard.app import create_app
from dashboard.main import server_options
from dashboard.security import COOKIE

from tests.dashboard.conftest import wait_for

TOKEN = "tok-3c9e1a7f5b2d4a6f"


def files_of(ws):
    audit = ws.root / "dashboard_audit.jsonl"
    return ws.config_file.read_bytes(), audit.read_bytes() if audit.exists() else b""


@pytest.fixture
def api(workspace, serve, client_for):
    return client_for(serve())


# ------------------------------------------------------------------------- confined paths
@pytest.mark.parametrize("name", ["ASTER_STATE_FILE", "ASTER_LOG_DIR", "ASTER_RUN_DIR", "ASTER_JOURNAL_FILE",
                                  "ASTER_PAPER_DB", "ASTER_DASHBOARD_TLS_KEY"])
@pytest.mark.parametrize("value", ["/tmp/elsewhere/x", "../outside/x", "~/.ssh/authorized_keys"])
def test_paths_from_the_page_must_stay_in_the_working_directory(api, workspace, name, value):
    before = files_of(workspace)
    resp = api.patch("/api/config", json={name: value})
    assert resp.status_code == 422, resp.text
    assert "must stay inside" in resp.json()["errors"][name] and ".env or the environment" in \
        resp.json()["errors"][name]
    assert files_of(workspace) == before


def test_a_symlink_out_of_the_working_directory_is_followed_and_refused(api, workspace, tmp_path):
    (tmp_path / "outside").mkdir()
    (workspace.root / "link").symlink_to(tmp_path / "outside")
    assert api.patch("/api/config", json={"ASTER_STATE_FILE": "link/state.json"}).status_code == 422
    ok = api.patch("/api/config", json={"ASTER_STATE_FILE": "data/state.json",
                                        "ASTER_LOG_DIR": str(workspace.root / "logs2")})
    assert ok.status_code == 200, ok.text


def test_replay_paths_are_confined_but_shipped_datasets_are_allowed(api, workspace):
    refused = api.patch("/api/config", json={"ASTER_PAPER_FEED": "replay:/etc"})
    assert refused.status_code == 422 and "must stay inside" in refused.json()["errors"]["ASTER_PAPER_FEED"]
    for feed in ("replay:binance-um-2026-02", "replay:data/my-replay",
                 f"replay:{PACKAGE_DATA / 'replay' / 'lean-adausdt-2022-12-13'}"):
        assert api.patch("/api/config", json={"ASTER_PAPER_FEED": feed}).status_code == 200, feed


def test_the_operator_may_put_paths_anywhere_in_env_or_dotenv(workspace, tmp_path):
    workspace.dotenv_file.write_text(f"ASTER_LOG_DIR={tmp_path / 'shared-logs'}\n")
    workspace.dotenv_file.chmod(0o600)
    env = {**workspace.env, "ASTER_STATE_FILE": str(tmp_path / "state-elsewhere.json")}
    s = load_settings(env=env, cwd=workspace.root).settings
    assert s.log_dir == str(tmp_path / "shared-logs") and s.state_file == str(tmp_path / "state-elsewhere.json")


def test_a_config_file_pointing_outside_is_refused_at_start(workspace):
    """Written behind the dashboard's back (or by an old version): every process refuses it."""
    workspace.write_config({"ASTER_PAPER": True, "ASTER_STATE_FILE": "/etc/mraster_state.json"})
    with pytest.raises(SettingsError) as err:
        load_settings(env=workspace.env, cwd=workspace.root)
    assert "ASTER_STATE_FILE='/etc/mraster_state.json' from config file" in str(err.value)


def test_plain_http_opt_in_is_only_for_the_operator(api, workspace):
    resp = api.patch("/api/config", json={"ASTER_DASHBOARD_ALLOW_PLAIN_HTTP": True})
    assert resp.status_code == 422 and "only be set in the environment or .env" in \
        resp.json()["errors"]["ASTER_DASHBOARD_ALLOW_PLAIN_HTTP"]


# ----------------------------------------------------------------------- unknown venue hosts
def test_an_unknown_exchange_host_needs_a_named_confirmation(api, workspace):
    before = files_of(workspace)
    change = {"ASTER_EXCHANGE_BASE": "https://fapi.asterdex.example.net"}
    resp = api.patch("/api/config", json=change)
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert body["confirm_hosts"] == {"ASTER_EXCHANGE_BASE": "fapi.asterdex.example.net"}
    assert "nothing was saved" in body["detail"] and files_of(workspace) == before
    wrong = api.patch("/api/config", json={**change, "_confirm_hosts": ["other.example"]})
    assert wrong.status_code == 409 and files_of(workspace) == before
    ok = api.patch("/api/config", json={**change, "_confirm_hosts": ["fapi.asterdex.example.net"]})
    assert ok.status_code == 200 and ok.json()["changed"] == ["ASTER_EXCHANGE_BASE"]
    audit = json.loads((workspace.root / "dashboard_audit.jsonl").read_text().splitlines()[-1])
    assert audit["confirmed_hosts"] == ["fapi.asterdex.example.net"]
    assert api.put("/api/config", json=json.loads(workspace.config_file.read_text())).status_code == 200, \
        "saving the value already in effect asks nothing"


@pytest.mark.parametrize("name, url", [("ASTER_EXCHANGE_BASE", "https://fapi.binance.com"),
                                       ("ASTER_EXCHANGE_BASE", "http://127.0.0.1:9999"),
                                       ("ASTER_WS_BASE", "wss://fstream.binance.com"),
                                       ("ASTER_PAPER_URL", "http://localhost:8800")])
def test_known_and_loopback_hosts_need_no_confirmation(api, name, url):
    assert api.patch("/api/config", json={name: url}).status_code == 200


@pytest.mark.parametrize("name, url", [("ASTER_WS_BASE", "wss://stream.example.org"),
                                       ("ASTER_PAPER_URL", "http://10.1.2.3:8765"),
                                       ("ASTER_EXCHANGE_BASE", "http://fapi.binance.com")])   # key in clear
def test_websocket_and_paper_addresses_are_confirmed_too(api, name, url):
    assert api.patch("/api/config", json={name: url}).status_code == 409


# --------------------------------------------------------------------------------- logout
@pytest.fixture
def secured(workspace):
    workspace.dotenv_file.write_text(f"ASTER_DASHBOARD_TOKEN={TOKEN}\n")
    workspace.dotenv_file.chmod(0o600)
    return workspace


def login(server, client_for):
    browser = client_for(server, follow_redirects=False)
    assert browser.post("/login", data={"token": TOKEN}).status_code == 303
    return browser, browser.cookies[COOKIE]


def test_logout_ends_the_session_on_the_server(secured, serve, client_for):
    server = serve()
    browser, stolen = login(server, client_for)
    other, other_cookie = login(server, client_for)
    assert httpx.get(server.url + "/api/processes", cookies={COOKIE: stolen}).status_code == 200
    assert browser.post("/logout").status_code == 303
    assert httpx.get(server.url + "/api/processes", cookies={COOKIE: stolen}).status_code == 401, \
        "a copy of the cookie is worthless after logout"
    assert other.get("/api/processes").status_code == 200, "other sessions go on"
    sessions = secured.run_dir / "dashboard_sessions.json"
    assert sessions.stat().st_mode & 0o777 == 0o600 and other_cookie.split(".")[1] not in sessions.read_text()
    server.stop()
    again = serve()                                                    # a dashboard restart
    assert httpx.get(again.url + "/api/processes", cookies={COOKIE: other_cookie}).status_code == 200
    assert httpx.get(again.url + "/api/processes", cookies={COOKIE: stolen}).status_code == 401


# ------------------------------------------------------------------------ HTTPS and plain HTTP
def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made with the openssl command line."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    key.chmod(0o600)
    return cert, key


def test_the_dashboard_serves_https_with_the_configured_certificate(secured):
    cert, _ = self_signed(secured.root / "tls")
    secured.write_config({"ASTER_PAPER": True, "ASTER_DASHBOARD_HOST": "0.0.0.0",
                          "ASTER_DASHBOARD_TLS_CERT": "tls/cert.pem", "ASTER_DASHBOARD_TLS_KEY": "tls/key.pem"})
    loaded = load_settings(env=secured.env, cwd=secured.root)
    options = server_options(loaded)                 # what `mraster dashboard` passes to uvicorn
    assert options["ssl_certfile"] == str(cert) and options["host"] == "0.0.0.0"
    options.pop("host"), options.pop("port")
    app = create_app(loaded, loader=secured.loader(), commands={}, exchange_factory=lambda s: None)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), 20, what="the HTTPS server")
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=ssl.create_default_context(cafile=cert),
                          timeout=10,
                          follow_redirects=False) as client:
            resp = client.get("/api/processes", headers={"Authorization": f"Bearer {TOKEN}"})
            assert resp.status_code == 200
            login = client.post("/login", data={"token": TOKEN})
            assert "secure" in login.headers["set-cookie"].lower()
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/api/processes", headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=5).raise_for_status()
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def test_start_refuses_a_token_over_plain_http_on_a_network_address(secured):
    secured.write_config({"ASTER_PAPER": False})
    env = {**secured.env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    with socket.socket() as probe:                   # a free port, in case the refusal failed and it served
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    proc = subprocess.run([sys.executable, "-m", "dashboard", "--no-paper-exchange", "--host", "0.0.0.0",
                           "--port", port], cwd=secured.root, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "over plain HTTP" in proc.stderr and "ASTER_DASHBOARD_TLS_CERT" in proc.stderr
    opted = {**secured.env, "ASTER_DASHBOARD_ALLOW_PLAIN_HTTP": "true", "ASTER_DASHBOARD_HOST": "0.0.0.0"}
    assert "ssl_certfile" not in server_options(load_settings(env=opted, cwd=secured.root))


async def test_a_running_app_refuses_plain_http_on_a_network_address(secured):
    """`uvicorn dashboard.app:app --host 0.0.0.0` skips the start check, so the app refuses by itself.
    The ASGI transport plays the network here (no second interface to bind in a test)."""
    loaded = load_settings(env=secured.env, cwd=secured.root)
    app = create_app(loaded, loader=secured.loader(), commands={})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://10.0.0.5:8000") as c:
        resp = await c.get("/api/processes", headers=auth)
        assert resp.status_code == 403 and "plain HTTP" in resp.json()["detail"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://10.0.0.5:8443") as c:
        assert (await c.get("/static/css/app.css")).status_code == 200
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as c:
        assert (await c.get("/static/css/app.css")).status_code == 200, "loopback (a TLS proxy) is fine"
    opted = load_settings(env={**secured.env, "ASTER_DASHBOARD_ALLOW_PLAIN_HTTP": "1"}, cwd=secured.root)
    app = create_app(opted, loader=secured.loader(), commands={})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://10.0.0.5:8000") as c:
        assert (await c.get("/static/css/app.css")).status_code == 200
