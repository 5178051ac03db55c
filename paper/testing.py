"""Test harness: a real paper exchange in a child process, for the tests of every area.

    with PaperExchange(tmp_path, symbols=("BTCUSDT",), seed=3) as px:
        httpx.get(px.url + "/fapi/v1/ping")
        px.admin("POST", "/price", symbol="BTCUSDT", price="65000")
        subprocess.run([...], env={**os.environ, **px.env()})

The child is `python -m commands.main paper-exchange`, started in `workdir` with a clean ASTER_*
environment, on a port it picks itself (port 0), which it announces in `<workdir>/run/paper_exchange.json`.
Its output goes to `<workdir>/paper.out` (never a pipe), its JSON log to `<workdir>/logs/paper.jsonl`.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import httpx

from mraster.childproc import ChildProcess, clean_environ
from paper.config import DEFAULT_KEY, DEFAULT_SECRET

START_DEADLINE_S = 20.0
ANNOUNCE_FILE = "paper_exchange.json"


class PaperExchangeError(RuntimeError):
    """The child did not start, died, or an admin call failed (message says which, with its output)."""


class PaperExchange:
    def __init__(self, workdir: Path | str, *, symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT"),
                 feed: str = "synthetic", seed: int = 1, speed: float = 1.0, admin: bool = True,
                 faults: str | None = None, balance: float = 10000.0, env: Mapping[str, str] | None = None,
                 reset: bool = False, profile: str = "aster-v1"):
        self.workdir = Path(workdir)
        self.symbols = tuple(s.upper() for s in symbols)
        self.feed, self.seed, self.speed, self.admin_enabled = feed, seed, speed, admin
        self.faults, self.balance, self.reset = faults, balance, reset
        self.profile = profile
        self.extra_env = dict(env or {})
        self.api_key = self.extra_env.get("ASTER_PAPER_API_KEY") or DEFAULT_KEY
        self.api_secret = self.extra_env.get("ASTER_PAPER_API_SECRET") or DEFAULT_SECRET
        self.port: int | None = None
        self._child: ChildProcess | None = None

    @property
    def proc(self):
        return None if self._child is None else self._child.proc

    # ------------------------------------------------------------------ addresses
    @property
    def url(self) -> str:
        if self.port is None:
            raise PaperExchangeError("the paper exchange is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    @property
    def db_path(self) -> Path:
        return self.workdir / "paper_exchange.sqlite"

    @property
    def log_path(self) -> Path:
        return self.workdir / "logs" / "paper.jsonl"

    @property
    def out_path(self) -> Path:
        return self.workdir / "paper.out"

    def env(self) -> dict[str, str]:
        """ASTER_* variables that point a child bot/guard at this exchange."""
        out = {
            "ASTER_PAPER": "true",
            "ASTER_PAPER_URL": self.url,
            "ASTER_PAPER_FEED": self.feed,
            "ASTER_PAPER_SYMBOLS": ",".join(self.symbols),
            "ASTER_PAPER_SEED": str(self.seed),
            "ASTER_PAPER_SPEED": str(self.speed),
            "ASTER_VENUE_PROFILE": self.profile,
        }
        for name in ("ASTER_PAPER_API_KEY", "ASTER_PAPER_API_SECRET"):
            if self.extra_env.get(name):
                out[name] = self.extra_env[name]
        return out

    # ------------------------------------------------------------------ lifecycle
    def _child_env(self) -> dict[str, str]:
        base = clean_environ({
            "ASTER_CONFIG_FILE": str(self.workdir / "dashboard_config.json"),
            "ASTER_DOTENV_FILE": str(self.workdir / ".env"),
            "ASTER_PAPER_FEED": self.feed,
            "ASTER_PAPER_SYMBOLS": ",".join(self.symbols),
            "ASTER_PAPER_SEED": str(self.seed),
            "ASTER_PAPER_SPEED": str(self.speed),
            "ASTER_PAPER_BALANCE": str(self.balance),
            "ASTER_PAPER_DB": str(self.db_path),
            "ASTER_PAPER_ADMIN": "true" if self.admin_enabled else "false",
            "ASTER_VENUE_PROFILE": self.profile,
            "ASTER_LOG_DIR": str(self.workdir / "logs"),
            "ASTER_RUN_DIR": str(self.workdir / "run"),
            "PYTHONUNBUFFERED": "1",
        })
        base.update(self.extra_env)
        return base

    def start(self) -> "PaperExchange":
        """Start the child; returns once it answers (PaperExchangeError after ~20 s). Readiness is asked at
        GET /paper/info, which injected faults never touch (a start with --faults would else fool the check)."""
        if self._child is not None and self._child.running:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        announce = self.workdir / "run" / ANNOUNCE_FILE
        announce.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "commands.main", "paper-exchange", "--host", "127.0.0.1",
               "--port", str(self.port or 0)]
        if self.faults:
            cmd += ["--faults", self.faults]
        if self.reset:
            cmd.append("--reset")
        self._child = ChildProcess(cmd, self.workdir, self._child_env(), self.out_path)
        self._child.start()
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if not self._child.running:
                raise PaperExchangeError(f"paper exchange exited with code {self._child.returncode}:\n{self._tail()}")
            port = self._announced_port(announce)
            if port is not None:
                self.port = port
                try:
                    if httpx.get(f"{self.url}/paper/info", timeout=2.0).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)   # polling a child process for readiness, not synchronising test logic
        self.stop()
        raise PaperExchangeError(f"paper exchange did not answer /paper/info within {START_DEADLINE_S:.0f} s:\n"
                                 f"{self._tail()}")

    def _announced_port(self, announce: Path) -> int | None:
        try:
            data = json.loads(announce.read_text())
        except (OSError, ValueError):
            return None
        if self.proc is None or data.get("pid") != self.proc.pid:
            return None
        return int(data["port"])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if self._child is not None:
            self._child.stop(timeout)

    def kill(self) -> None:
        """SIGKILL at once (a crash), keeping the port for `start()`."""
        if self._child is not None:
            self._child.kill()

    def restart(self) -> None:
        """Stop and start again on the same port with the same database."""
        self.stop()
        self.reset = False
        self.start()

    @property
    def returncode(self) -> int | None:
        return None if self._child is None else self._child.returncode

    def _tail(self, lines: int = 40) -> str:
        return ChildProcess.tail_of(self.out_path, lines)

    def __enter__(self) -> "PaperExchange":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ admin
    def admin(self, method: str, path: str, api_key: str | None = None, **json_body: Any) -> Any:
        """Call `/admin/<path>` (sync). GET and DELETE send the fields as query parameters.

        Acts on the account of `api_key` (default: this harness's key) unless `account=` is given.
        Raises PaperExchangeError with the server's message on any non-2xx answer."""
        method = method.upper()
        url = f"{self.url}/admin/{path.lstrip('/')}"
        headers = {"X-MBX-APIKEY": api_key or self.api_key}
        if method in ("GET", "DELETE"):
            params = {k: (json.dumps(v) if isinstance(v, (dict, list)) else str(v).lower()
                          if isinstance(v, bool) else str(v)) for k, v in json_body.items()}
            resp = httpx.request(method, url, params=params, headers=headers, timeout=30.0)
        else:
            resp = httpx.request(method, url, json=json_body, headers=headers, timeout=30.0)
        try:
            data = resp.json()
        except ValueError:
            data = {"raw": resp.text}
        if resp.status_code >= 300:
            raise PaperExchangeError(f"admin {method} /admin/{path.lstrip('/')} -> HTTP {resp.status_code}: {data}")
        return data
