"""Paper-mode start-up helpers and the entry point's refusals (the paper exchange child itself is
started in test_paper_e2e.py)."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.runtime.main import run
from mraster.paper_launch import child_env, ensure_paper_exchange, paper_alive
from mraster.settings import load_settings

from tests.bot.runtime_helpers import bot_env


class _Ping(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        ok = self.path == "/fapi/v1/ping"
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def ping_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ping)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_answering_paper_exchange_is_used_not_started(tmp_path, ping_server):
    s = load_settings(env=bot_env(tmp_path, ASTER_PAPER_URL=ping_server)).settings
    assert paper_alive(ping_server)
    assert ensure_paper_exchange(s, {}) == "running"
    assert not (tmp_path / "run" / "paper.pid").exists()


def test_nothing_listening_is_not_alive():
    assert not paper_alive("http://127.0.0.1:9", timeout=0.3)


def test_child_env_passes_overrides_but_not_secrets():
    env = child_env({"ASTER_PAPER_SEED": "5", "ASTER_API_SECRET": "topsecret"}, base={"PATH": "/bin"})
    assert env == {"PATH": "/bin", "ASTER_PAPER_SEED": "5"}


def test_live_mode_without_keys_refuses_with_code_2(tmp_path, capsys, restore_logging):
    loaded = load_settings(env=bot_env(tmp_path, ASTER_PAPER="false"))
    assert run(loaded, None) == 2
    out = capsys.readouterr().out
    assert "ASTER_API_KEY" in out and '"level": "ERROR"' in out
