"""Security by default: loopback only without a token, token everywhere with one (pages, API,
WebSocket), sessions that never hold the token, same-origin checks, secrets never sent."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from mraster.settings import load_settings
from dashboard.main import run as run_dashboard
from dashboard.middleware import _loopback_only_ok
from dashboard.security import COOKIE, refuse_reason

TOKEN = "tok-7f3a9c1e5b2d4a6f"


def ws_connect(server, path="/ws/logs", **kw):
    return connect(server.ws_url + path, open_timeout=10, **kw)


# ---------------------------------------------------------------- without a token
def test_refuses_non_loopback_bind_without_token(workspace, capsys):
    loaded = load_settings(env=workspace.env, cwd=workspace.root, cli={"ASTER_DASHBOARD_HOST": "0.0.0.0"})
    code = run_dashboard(loaded, argparse.Namespace(command="dashboard", no_paper_exchange=True))
    assert code == 2
    err = capsys.readouterr().err
    assert "refusing to serve on 0.0.0.0" in err and "ASTER_DASHBOARD_TOKEN" in err
    assert refuse_reason("127.0.0.1", "") == "" and refuse_reason("::1", "") == ""
    assert refuse_reason("localhost", "") == "" and refuse_reason("192.168.1.5", "x", tls=True) == ""
    assert refuse_reason("192.168.1.5", "x", allow_plain_http=True) == ""
    assert "plain HTTP" in refuse_reason("192.168.1.5", "x")           # the token would cross the net in clear
    assert refuse_reason("192.168.1.5", "") and refuse_reason("example.org", "", tls=True)


def test_cli_exits_2_with_a_clear_message(workspace):
    env = {**workspace.env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}   # this checkout's code
    proc = subprocess.run([sys.executable, "-m", "dashboard", "--host", "0.0.0.0", "--port", "1"],
                          cwd=workspace.root, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "refusing to serve on 0.0.0.0" in proc.stderr


def test_no_token_serves_loopback_only(workspace, serve, client_for):
    server = serve()
    api = client_for(server)
    assert api.get("/api/processes").status_code == 200
    assert api.get("/").status_code == 200
    # a DNS-rebinding page reaches 127.0.0.1 with its own host name: refused
    resp = api.get("/api/processes", headers={"Host": "attacker.example"})
    assert resp.status_code == 403 and "loopback" in resp.json()["detail"]
    assert not _loopback_only_ok({"type": "http", "server": ("10.0.0.5", 8000), "client": ("10.0.0.9", 5),
                                  "headers": [(b"host", b"10.0.0.5:8000")]})
    assert _loopback_only_ok({"type": "http", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5),
                              "headers": [(b"host", b"localhost:8000")]})


def test_cross_site_changes_are_refused(workspace, serve, client_for):
    server = serve(commands={"bot": (sys.executable, "-c", "import time; time.sleep(60)")})
    api = client_for(server)
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Referer": "http://evil.example/page"}, {"Origin": f"http://127.0.0.1:{server.port + 1}"}):
        resp = api.post("/api/bot/start?guard=false", headers=headers)
        assert resp.status_code == 403 and "cross-site" in resp.json()["detail"], headers
        assert resp.status_code == 403
        resp = api.patch("/api/config", json={"ASTER_LEVERAGE": 4}, headers=headers)
        assert resp.status_code == 403
    assert api.get("/api/bot/status").json()["state"] == "stopped"
    assert api.post("/api/bot/start?guard=false", headers={"Origin": server.url}).status_code == 200
    assert api.post("/api/bot/stop", headers={"Referer": server.url + "/"}).status_code == 200
    assert api.post("/api/bot/stop").status_code == 200, "programs (no Origin, no Referer) may call the API"


def test_websocket_checks_origin(workspace, serve):
    server = serve()
    with pytest.raises(InvalidStatus) as info:
        ws_connect(server, origin="http://evil.example")
    assert info.value.response.status_code == 403
    with ws_connect(server, origin=server.url) as ws:
        assert json.loads(ws.recv(10))["type"] == "hello"


# ------------------------------------------------------------------ with a token
@pytest.fixture
def secured(workspace, serve):
    workspace.dotenv_file.write_text(f"ASTER_DASHBOARD_TOKEN={TOKEN}\nASTER_API_KEY=apikey-0123456789\n")
    workspace.dotenv_file.chmod(0o600)
    return serve()


def test_token_required_for_pages_api_and_websocket(secured, client_for):
    anon = client_for(secured, follow_redirects=False)
    page = anon.get("/")
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert anon.get("/login").status_code == 200
    for method, path in [("GET", "/api/processes"), ("GET", "/api/config"), ("GET", "/api/state"),
                         ("GET", "/api/logs"), ("GET", "/api/bot/status"), ("POST", "/api/bot/start"),
                         ("PATCH", "/api/config"), ("GET", "/api/presets"), ("GET", "/api/config/schema")]:
        resp = anon.request(method, path)
        assert resp.status_code == 401, (method, path)
    assert anon.get("/api/processes", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert anon.get("/api/processes", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    for path in ("/ws/logs", "/ws/state"):
        with pytest.raises(InvalidStatus):
            ws_connect(secured, path)
    with ws_connect(secured, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        assert json.loads(ws.recv(10))["type"] == "hello"
    assert anon.get("/static/css/app.css").status_code == 200, "assets are public (no secrets in them)"


def test_login_sets_a_session_cookie_that_is_not_the_token(secured, client_for):
    browser = client_for(secured, follow_redirects=False)
    wrong = browser.post("/login", data={"token": "nope"})
    assert wrong.status_code == 303 and "error=wrong" in wrong.headers["location"]
    assert COOKIE not in browser.cookies
    resp = browser.post("/login", data={"token": TOKEN}, headers={"Origin": secured.url})
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    set_cookie = resp.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie.replace("Strict", "strict")
    session = browser.cookies[COOKIE]
    assert TOKEN not in session and TOKEN not in set_cookie
    assert browser.get("/").status_code == 200
    assert browser.get("/api/processes").status_code == 200
    cookie_header = {"Cookie": f"{COOKIE}={session}"}
    with ws_connect(secured, origin=secured.url, additional_headers=cookie_header) as ws:
        assert json.loads(ws.recv(10))["type"] == "hello"
    with pytest.raises(InvalidStatus):  # a valid cookie from a foreign page is still refused
        ws_connect(secured, origin="http://evil.example", additional_headers=cookie_header)
    forged = session.split(".")[0] + ".00" + session.split(".")[1][2:]
    assert httpx.get(secured.url + "/api/processes", cookies={COOKIE: forged}).status_code == 401
    # the session changes nothing cross-site even with the cookie
    assert browser.post("/api/bot/stop", headers={"Origin": "http://evil.example"}).status_code == 403
    out = browser.post("/logout", headers={"Origin": secured.url})
    assert out.status_code == 303 and COOKIE not in browser.cookies


def test_csrf_header_token_from_the_page(secured, client_for):
    browser = client_for(secured, follow_redirects=True)
    browser.post("/login", data={"token": TOKEN})
    html = browser.get("/").text
    csrf = html.split('name="csrf-token" content="')[1].split('"')[0]
    assert len(csrf) == 32 and csrf not in TOKEN
    headers = {"Origin": "http://proxy.example"}
    assert browser.patch("/api/config", json={"ASTER_LEVERAGE": 4}, headers=headers).status_code == 403
    resp = browser.patch("/api/config", json={"ASTER_LEVERAGE": 4}, headers={"X-CSRF-Token": csrf, **headers})
    assert resp.status_code == 200, "a valid CSRF header passes even when a proxy rewrote the Origin"


def test_login_attempts_are_throttled(secured, client_for):
    browser = client_for(secured, follow_redirects=False)
    for _ in range(5):
        assert "wrong" in browser.post("/login", data={"token": "guess"}).headers["location"]
    blocked = browser.post("/login", data={"token": TOKEN})
    assert "too%20many" in blocked.headers["location"] and COOKIE not in browser.cookies


def test_secrets_are_never_sent(secured, client_for):
    api = client_for(secured, headers={"Authorization": f"Bearer {TOKEN}"})
    for path in ("/", "/api/config", "/api/config/schema", "/api/processes", "/api/state", "/api/presets",
                 "/api/logs", "/api/config/audit", "/api/openapi.json"):
        text = api.get(path).text
        assert TOKEN not in text and "apikey-0123456789" not in text, path
    api.patch("/api/config", json={"ASTER_API_SECRET": "new-secret-98765"})
    assert "new-secret-98765" not in api.get("/api/config").text
    assert "new-secret-98765" not in api.get("/api/config/audit").text
