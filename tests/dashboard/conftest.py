"""Fixtures of the dashboard tests: a workspace in tmp_path, real uvicorn servers on free ports,
small real child scripts, and clean-up of every child a test started."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest
import uvicorn

from mraster.settings import load_settings
from dashboard.app import create_app
from mraster.procinfo import is_alive, read_pid_file

DATA = Path(__file__).resolve().parent.parent / "data" / "dashboard"


def _polls(condition: Callable[[], Any], timeout: float, what: str):
    """Yields `condition()` again and again; fails once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        yield condition()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> Any:
    """Poll until `condition()` is truthy and return it (no sleeping as synchronisation)."""
    for value in _polls(condition, timeout, what):
        if value:
            return value
        time.sleep(interval)


async def async_wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    for value in _polls(condition, timeout, what):
        if value:
            return value
        await asyncio.sleep(0.02)


@dataclass
class Workspace:
    root: Path
    env: dict[str, str]

    @property
    def config_file(self) -> Path:
        return self.root / "dashboard_config.json"

    @property
    def dotenv_file(self) -> Path:
        return self.root / ".env"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    def loader(self):
        return lambda: load_settings(env=self.env, cwd=self.root)

    def write_config(self, values: dict[str, Any]) -> None:
        self.config_file.write_text(json.dumps(values, indent=2) + "\n")

    def script(self, name: str, body: str) -> tuple[str, ...]:
        """A small real child program; returns its command."""
        path = self.root / "bin" / f"{name}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(body))
        return (sys.executable, str(path))


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    ws = Workspace(root, {"ASTER_CONFIG_FILE": str(root / "dashboard_config.json"),
                          "ASTER_DOTENV_FILE": str(root / ".env"), "PATH": os.environ.get("PATH", "")})
    ws.write_config({"ASTER_PAPER": True, "ASTER_PAPER_FEED": "synthetic"})
    yield ws
    kill_recorded_children(ws.run_dir)


def kill_recorded_children(run_dir: Path) -> None:
    """Tests never leave processes behind: SIGKILL every child still named by a pid file."""
    if not run_dir.exists():
        return
    for pid_file in run_dir.glob("*.pid"):
        try:
            record = read_pid_file(pid_file)
        except Exception:
            continue
        if record is not None and is_alive(record.identity):
            try:
                os.killpg(record.identity.pid, signal.SIGKILL)
            except OSError:
                pass


SLEEPER = """
    import json, os, signal, sys, time
    name = sys.argv[1] if len(sys.argv) > 1 else "child"
    def bye(*_):
        print("got SIGTERM, leaving", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, bye)
    print(f"{name} up pid={os.getpid()}", flush=True)
    while True:
        time.sleep(0.05)
"""

STUBBORN = """
    import os, signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(f"stubborn up pid={os.getpid()}", flush=True)
    while True:
        time.sleep(0.05)
"""

CRASHER = """
    import sys
    print("crasher: something went wrong", flush=True)
    sys.exit(3)
"""


class ServerThread:
    """A real uvicorn server on a free loopback port, in a thread of the test process."""

    def __init__(self, app: Any):
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", ws_ping_interval=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> "ServerThread":
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), 20, what="server start")
        assert self.server.started, "the server did not start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()


@pytest.fixture
def serve(workspace: Workspace):
    """serve(**create_app kwargs) -> ServerThread, stopped at the end of the test."""
    servers: list[ServerThread] = []

    def start(**kwargs: Any) -> ServerThread:
        kwargs.setdefault("loader", workspace.loader())
        kwargs.setdefault("commands", {})
        kwargs.setdefault("exchange_factory", _no_exchange)
        server = ServerThread(create_app(**kwargs)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _no_exchange(settings: Any) -> Any:
    raise ConnectionError("no venue in this test")


@pytest.fixture
def client_for():
    clients: list[httpx.Client] = []

    def make(server: ServerThread, **kwargs: Any) -> httpx.Client:
        client = httpx.Client(base_url=server.url, timeout=20, **kwargs)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()
