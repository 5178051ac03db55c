"""Test and trial harness: executors and a coordinator as child processes on loopback ports.

    with PaperExchange(tmp, symbols=("BTCUSDT",)) as px:
        rig = MakerRig(tmp, px.env(), settings={"decision_interval": 0.5})
        rig.start_executor("B"); rig.start_executor("C"); rig.start_coordinator()
        rig.wait_for(lambda: rig.status("B")["mode"] == "active", 20)

Each child is `python -m commands.main maker ...` with ASTER_ACCOUNTS=A,B,C (paper accounts paper-a/b/c),
settings given as `MRASTER_MAKER__<NAME>` variables, output to `<workdir>/<name>.out`.
"""
from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import httpx

from mraster.childproc import ChildProcess, clean_environ
from mraster.domain.signed import headers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class MakerRig:
    def __init__(self, workdir: Path | str, paper_env: Mapping[str, str], *, settings: Mapping[str, Any] | None = None,
                 secret: str = "", instance: str = "maker", extra_env: Mapping[str, str] | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.instance, self.secret = instance, secret
        self.ports = {"B": free_port(), "C": free_port()}
        env = {**paper_env, "ASTER_ACCOUNTS": "A,B,C",
               "ASTER_CONFIG_FILE": str(self.workdir / "dashboard_config.json"),
               "ASTER_DOTENV_FILE": str(self.workdir / ".env"),
               "ASTER_RUN_DIR": str(self.workdir / "run"), "ASTER_LOG_DIR": str(self.workdir / "logs"),
               "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        for server, port in self.ports.items():
            env[f"SERVER_{server}_URL"] = f"http://127.0.0.1:{port}"
        for name, value in (settings or {}).items():
            env[f"MRASTER_{instance.upper()}__{name}"] = str(value)
        if secret:
            env["MAKER_HMAC_SECRET"] = secret
        self.env = clean_environ(env)
        self.children: dict[str, ChildProcess] = {}

    def url(self, server: str) -> str:
        return f"http://127.0.0.1:{self.ports[server]}"

    @property
    def run_dir(self) -> Path:
        return self.workdir / "run"

    def _start(self, name: str, args: list[str]) -> ChildProcess:
        child = ChildProcess([sys.executable, "-m", "commands.main", "maker", *args], self.workdir, self.env,
                             self.workdir / f"{name}.out")
        child.start()
        self.children[name] = child
        return child

    def start_executor(self, server: str, wait: bool = True) -> ChildProcess:
        child = self._start(server, ["executor", "--account", server, "--port", str(self.ports[server])])
        if wait:
            self.wait_for(lambda: self._answers(server), 30, f"executor {server} answers /health",
                          child=child)
        return child

    def start_coordinator(self, *extra: str) -> ChildProcess:
        return self._start("coordinator", ["coordinator", "--seed", "7", *extra])

    def _answers(self, server: str) -> bool:
        try:
            httpx.get(self.url(server) + "/health", timeout=1.0)
            return True
        except httpx.HTTPError:
            return False

    def status(self, server: str) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(self.url(server) + "/status", timeout=5.0).json()
        return data

    def post(self, server: str, path: str, body: bytes = b"{}", *, ts_ms: int | None = None,
             secret: str | None = None) -> httpx.Response:
        ts = int(time.time() * 1000) if ts_ms is None else ts_ms
        hdrs = headers(self.secret if secret is None else secret, ts, body)
        return httpx.post(self.url(server) + path, content=body, headers=hdrs, timeout=30.0)

    def wait_for(self, cond: Callable[[], Any], timeout: float, what: str = "condition",
                 child: ChildProcess | None = None) -> Any:
        """Poll `cond` until truthy (returned) or fail after `timeout` s with the children's output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child is not None and not child.running:
                raise AssertionError(f"{what}: the process exited ({child.returncode}):\n{child.tail()}")
            try:
                value = cond()
            except (httpx.HTTPError, KeyError, ValueError, OSError):
                value = None
            if value:
                return value
            time.sleep(0.05)
        tails = "\n".join(f"--- {n}\n{c.tail(20)}" for n, c in self.children.items())
        raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tails}")

    def stop_all(self) -> None:
        for child in self.children.values():
            child.stop(10.0)
