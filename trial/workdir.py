"""The trial's work directory, laid out as a user's would be: dashboard_config.json, .env (0600).

The .env holds a dashboard token, a live API key pair (unused in paper mode, there to prove it
never leaks) and the paper exchange's own key pair (the account bot and guard trade on). All five
are random per run; `Secrets.values()` is what the leak check looks for.
"""
from __future__ import annotations

import json
import os
import secrets as pysecrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mraster.settings import SettingsError, load_settings
from mraster.storage.atomic import write_text_atomic
from trial.params import TrialParams

SETTING_PREFIXES = ("ASTER_", "FAST_TP", "FASTTP")


@dataclass(frozen=True)
class Secrets:
    dashboard_token: str
    api_key: str
    api_secret: str
    paper_api_key: str
    paper_api_secret: str

    @classmethod
    def generate(cls) -> "Secrets":
        return cls(*(f"{tag}{pysecrets.token_hex(16)}" for tag in ("tok", "lk", "ls", "pk", "ps")))

    def values(self) -> dict[str, str]:
        return {"ASTER_DASHBOARD_TOKEN": self.dashboard_token, "ASTER_API_KEY": self.api_key,
                "ASTER_API_SECRET": self.api_secret, "ASTER_PAPER_API_KEY": self.paper_api_key,
                "ASTER_PAPER_API_SECRET": self.paper_api_secret}

    def dotenv(self) -> str:
        return "".join(f"{name}={value}\n" for name, value in self.values().items())


@dataclass(frozen=True)
class WorkDir:
    path: Path
    paper_port: int
    dashboard_port: int
    secrets: Secrets
    config: dict[str, Any]

    @property
    def config_file(self) -> Path:
        return self.path / "dashboard_config.json"

    @property
    def dotenv_file(self) -> Path:
        return self.path / ".env"

    @property
    def log_dir(self) -> Path:
        return self.path / "logs"

    @property
    def run_dir(self) -> Path:
        return self.path / "run"

    @property
    def paper_url(self) -> str:
        return f"http://127.0.0.1:{self.paper_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def load_settings(self) -> Any:
        """The settings every process of the run builds (files of the work dir, no outside environment)."""
        return load_settings(env=clean_env_for(self), cwd=self.path)

    def child_env(self) -> dict[str, str]:
        """Environment for `mraster dashboard`: ours without any ASTER_* variable, so only the files count."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
        env["PYTHONUNBUFFERED"] = "1"
        return env


def clean_env_for(work: WorkDir) -> dict[str, str]:
    return {"ASTER_CONFIG_FILE": str(work.config_file), "ASTER_DOTENV_FILE": str(work.dotenv_file)}


def free_port() -> int:
    """A port nobody listens on now (bound to 0 and released; the child binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def default_out_dir(root: Path | str = "trial_out") -> Path:
    return Path(root) / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def create(path: Path, params: TrialParams) -> WorkDir:
    """Create the directory (must be new or empty) and write the settings files; validates them."""
    path = Path(path).resolve()
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(f"{path} exists and is not empty: a trial needs a fresh work directory")
    path.mkdir(parents=True, exist_ok=True)
    paper_port, dashboard_port = free_port(), free_port()
    while dashboard_port == paper_port:
        dashboard_port = free_port()
    secrets = Secrets.generate()
    config = params.settings(f"http://127.0.0.1:{paper_port}", dashboard_port)
    work = WorkDir(path, paper_port, dashboard_port, secrets, config)
    write_text_atomic(work.config_file, json.dumps(config, indent=1) + "\n")
    write_text_atomic(work.dotenv_file, secrets.dotenv(), mode=0o600)
    try:
        work.load_settings()
    except SettingsError as exc:
        raise ValueError(f"the trial's settings are invalid: {exc}") from None
    return work
