"""The Maker page's data: the coordinator's status file, the executors' health, emergency stop and reset.

The maker package is not imported (applications do not import each other): the coordinator writes
`<run_dir>/<instance>.status.json`; executors answer HTTP. Stop and reset are signed with the kernel's
instruction signer and `MAKER_HMAC_SECRET` (from .env or the environment, never shown).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from mraster.accounts import account_env
from mraster.domain.signed import headers
from mraster.engines import get_kind, instance_settings, instances_file, load_instances
from mraster.engines.instances import EngineInstance

SECRET_ENV = "MAKER_HMAC_SECRET"
SERVERS = ("B", "C")
DEFAULT = EngineInstance("maker", "maker", (("coordinator", "A"), ("executor_b", "B"), ("executor_c", "C")))


class MakerError(LookupError):
    """No such maker instance."""


class MakerService:
    def __init__(self, config_file: Path, dotenv_file: Path, run_dir: Path, timeout_s: float = 1.5):
        self.config_file, self.dotenv_file, self.run_dir = config_file, dotenv_file, run_dir
        self.timeout_s = timeout_s

    def instances(self) -> list[EngineInstance]:
        found = [i for i in load_instances(instances_file(self.config_file)) if i.kind == "maker"]
        return found if any(i.name == DEFAULT.name for i in found) else [*found, DEFAULT]

    def _instance(self, name: str) -> EngineInstance:
        for inst in self.instances():
            if inst.name == name:
                return inst
        raise MakerError(f"no maker instance {name!r}")

    def _env(self) -> dict[str, str]:
        return account_env(self.dotenv_file)

    def urls(self, name: str) -> dict[str, str]:
        inst, env = self._instance(name), self._env()
        values = instance_settings(get_kind("maker"), inst, env)
        explicit = dict(inst.settings)
        out = {}
        for s in SERVERS:
            key = f"SERVER_{s}_URL"
            bare = env.get(key) if key not in explicit and f"MRASTER_{name.upper()}__{key}" not in env else None
            out[s] = str(bare or values[key]).rstrip("/")
        return out

    def _status_file(self, name: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.run_dir / f"{name}.status.json").read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    async def view(self, name: str) -> dict[str, Any]:
        """The coordinator's last status (with its age) and each executor's live health and status."""
        urls = self.urls(name)
        status = self._status_file(name)
        now = int(time.time() * 1000)
        executors: dict[str, Any] = {}
        async with httpx.AsyncClient(timeout=self.timeout_s) as http:
            for s, url in urls.items():
                try:
                    health = (await http.get(url + "/health")).json()
                    live = (await http.get(url + "/status")).json()
                    executors[s] = {"url": url, "reachable": True, "health": health, "status": live}
                except (httpx.HTTPError, ValueError) as exc:
                    executors[s] = {"url": url, "reachable": False, "error": type(exc).__name__}
        return {"instance": name, "coordinator": status,
                "coordinator_age_s": None if status is None else round((now - int(status.get("updated_ms", 0))) / 1000, 1),
                "executors": executors}

    async def control(self, name: str, action: str, servers: list[str]) -> dict[str, Any]:
        """Signed POST /emergency_stop or /reset to the named executors."""
        urls, secret = self.urls(name), self._env().get(SECRET_ENV, "")
        path = "/emergency_stop" if action == "stop" else "/reset"
        out: dict[str, Any] = {}
        async with httpx.AsyncClient(timeout=30.0) as http:
            for s in servers:
                body = json.dumps({"by": "dashboard"}).encode()
                try:
                    resp = await http.post(urls[s] + path, content=body,
                                           headers=headers(secret, int(time.time() * 1000), body))
                    out[s] = {"ok": resp.status_code == 200, "http": resp.status_code, "answer": resp.json()}
                except (httpx.HTTPError, ValueError) as exc:
                    out[s] = {"ok": False, "error": f"executor {s} unreachable ({type(exc).__name__})"}
        return out
