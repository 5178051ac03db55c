"""The maker trial's paper exchange: `mraster paper-exchange` as a child process (the trial does not import
the paper package), on a port it announces in `<dir>/run/paper_exchange.json`, with its admin API."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from mraster.childproc import ChildProcess, clean_environ


class TrialVenue:
    def __init__(self, workdir: Path, symbol: str, seed: int):
        self.workdir, self.symbol, self.seed = workdir, symbol, seed
        self.url = ""
        self.child: ChildProcess | None = None

    def start(self) -> "TrialVenue":
        self.workdir.mkdir(parents=True, exist_ok=True)
        announce = self.workdir / "run" / "paper_exchange.json"
        announce.unlink(missing_ok=True)
        env = clean_environ({
            "ASTER_CONFIG_FILE": str(self.workdir / "dashboard_config.json"), "ASTER_DOTENV_FILE": str(self.workdir / ".env"),
            "ASTER_PAPER_FEED": "synthetic", "ASTER_PAPER_SYMBOLS": self.symbol, "ASTER_PAPER_SEED": str(self.seed),
            "ASTER_PAPER_DB": str(self.workdir / "paper_exchange.sqlite"), "ASTER_PAPER_ADMIN": "true",
            "ASTER_LOG_DIR": str(self.workdir / "logs"), "ASTER_RUN_DIR": str(self.workdir / "run"),
            "PYTHONUNBUFFERED": "1"})
        self.child = ChildProcess([sys.executable, "-m", "commands.main", "paper-exchange", "--host", "127.0.0.1",
                                   "--port", "0", "--reset"], self.workdir, env, self.workdir / "paper.out")
        self.child.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not self.child.running:
                raise RuntimeError(f"paper exchange exited:\n{self.child.tail()}")
            try:
                data = json.loads(announce.read_text())
                if self.child.proc is not None and data.get("pid") == self.child.proc.pid:
                    url = f"http://127.0.0.1:{int(data['port'])}"
                    if httpx.get(url + "/paper/info", timeout=2.0).status_code == 200:
                        self.url = url
                        return self
            except (OSError, ValueError, KeyError, httpx.HTTPError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"paper exchange did not start:\n{self.child.tail()}")

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def env(self) -> dict[str, str]:
        return {"ASTER_PAPER": "true", "ASTER_PAPER_URL": self.url, "ASTER_PAPER_FEED": "synthetic",
                "ASTER_PAPER_SYMBOLS": self.symbol, "ASTER_PAPER_SEED": str(self.seed)}

    def admin(self, method: str, path: str, **body: Any) -> Any:
        url = f"{self.url}/admin/{path.lstrip('/')}"
        if method in ("GET", "DELETE"):
            resp = httpx.request(method, url, params={k: str(v) for k, v in body.items()}, timeout=30.0)
        else:
            resp = httpx.request(method, url, json=body, timeout=30.0)
        resp.raise_for_status()
        return resp.json()

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(10.0)
