"""Fixtures of the ops tests: a work directory with its own settings files, `mraster` run as a real
child process, and a recording stand-in for systemctl (a real executable the code runs)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Work:
    root: Path
    env: dict[str, str]

    def mraster(self, *args: str, timeout: float = 600, extra_env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess:
        env = dict(self.env, **(extra_env or {}))
        return subprocess.run([sys.executable, "-m", "commands.main", *args], cwd=self.root, env=env,
                              capture_output=True, text=True, timeout=timeout)

    def config(self, values: dict) -> None:
        (self.root / "dashboard_config.json").write_text(json.dumps(values, indent=2))


@pytest.fixture
def work(tmp_path: Path) -> Work:
    root = tmp_path / "work"
    root.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASTER_", "FAST_TP", "FASTTP", "MRASTER_"))}
    env.update({"PYTHONPATH": str(ROOT), "ASTER_CONFIG_FILE": str(root / "dashboard_config.json"),
                "ASTER_DOTENV_FILE": str(root / ".env")})
    w = Work(root, env)
    w.config({"ASTER_PAPER": True})
    return w


SYSTEMCTL = """\
#!{python}
# stand-in for systemctl: appends its arguments to a file, answers is-active/is-enabled from a state file
import json, sys
from pathlib import Path
base = Path({base!r})
with (base / "calls.log").open("a") as fh:
    fh.write(" ".join(sys.argv[1:]) + "\\n")
state = json.loads((base / "state.json").read_text()) if (base / "state.json").exists() else {{}}
args = [a for a in sys.argv[1:] if not a.startswith("--")]
if args and args[0] == "is-active":
    print(state.get(args[1], "inactive")); sys.exit(0 if state.get(args[1]) == "active" else 3)
if args and args[0] == "is-enabled":
    print(state.get("enabled:" + args[1], "disabled")); sys.exit(0)
if args and args[0] == "show":
    print("LoadState=" + state.get("load", "not-found")); sys.exit(0)
if args and args[0] in ("stop", "start") and state.get("fail_" + args[0]):
    print("Job failed"); sys.exit(1)
if args and args[0] == "stop":
    for u in args[1:]:
        state[u] = "inactive"
if args and args[0] == "start":
    for u in args[1:]:
        state[u] = "active"
(base / "state.json").write_text(json.dumps(state))
"""


@dataclass
class FakeSystemctl:
    path: Path
    base: Path

    def calls(self) -> list[str]:
        log = self.base / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def set_state(self, **state: str) -> None:
        (self.base / "state.json").write_text(json.dumps(state))


@pytest.fixture
def fake_systemctl(tmp_path: Path) -> FakeSystemctl:
    base = tmp_path / "systemctl"
    base.mkdir()
    path = base / "systemctl"
    path.write_text(textwrap.dedent(SYSTEMCTL.format(python=sys.executable, base=str(base))))
    path.chmod(0o755)
    return FakeSystemctl(path, base)
