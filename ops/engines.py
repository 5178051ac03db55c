"""Stopping and starting the trading engines around the daily batch.

Under systemd the engines are the main unit (`ASTER_OPS_SERVICE`): `systemctl stop` lets every
process shut down cleanly (SIGTERM, then the unit's stop timeout). The dashboard's own scheduler stops
and starts its children itself and runs the batch with `--engines none`. `MRASTER_SYSTEMCTL` names
another systemctl binary (tests use a recording stand-in).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from ops.steps import StepFailed

MODES = ("auto", "systemd", "none")


def systemctl_path() -> str:
    return os.environ.get("MRASTER_SYSTEMCTL") or shutil.which("systemctl") or "/bin/systemctl"


def systemctl(*args: str, check: bool = True, timeout: float = 300.0) -> tuple[int, str]:
    try:
        proc = subprocess.run([systemctl_path(), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout)
    except FileNotFoundError:
        raise StepFailed("systemctl not found (not a systemd machine?)") from None
    except subprocess.TimeoutExpired:
        raise StepFailed(f"systemctl {' '.join(args)} did not finish within {timeout:.0f} s") from None
    if check and proc.returncode != 0:
        raise StepFailed(f"systemctl {' '.join(args)} exited {proc.returncode}: {proc.stdout.strip()[-300:]}")
    return proc.returncode, proc.stdout.strip()


def unit_loaded(unit: str) -> bool:
    """Is this unit installed (systemd knows its file)?"""
    if not (os.environ.get("MRASTER_SYSTEMCTL") or shutil.which("systemctl")):
        return False
    try:
        return systemctl("show", "-p", "LoadState", unit, check=False, timeout=20)[1].strip() == "LoadState=loaded"
    except StepFailed:
        return False


@dataclass
class EngineControl:
    mode: str            # systemd | none (auto resolved by `resolve`)
    unit: str = "mraster.service"
    recorder: str = ""   # the recorder unit, when one is installed (`deploy systemd --record`)
    was_active: bool = False

    @classmethod
    def resolve(cls, mode: str, service: str) -> "EngineControl":
        name = service[:-len(".service")] if service.endswith(".service") else service
        unit = f"{name}.service"
        if mode not in MODES:
            raise StepFailed(f"--engines {mode!r}: expected one of {', '.join(MODES)}")
        if mode == "auto":
            found = os.environ.get("MRASTER_SYSTEMCTL") or shutil.which("systemctl")
            active = bool(found) and systemctl("is-active", unit, check=False)[1] == "active"
            mode = "systemd" if active else "none"
        recorder = f"{name}-recorder.service"
        return cls(mode, unit, recorder if mode == "systemd" and unit_loaded(recorder) else "")

    @property
    def units(self) -> list[str]:
        return [self.unit] + ([self.recorder] if self.recorder else [])

    def stop(self) -> str:
        if self.mode == "none":
            return "engines left as they are (--engines none)"
        self.was_active = systemctl("is-active", self.unit, check=False)[1] == "active"
        systemctl("stop", *self.units)
        return f"{' '.join(self.units)} stopped" if self.was_active else f"{self.unit} was not running"

    def start(self) -> str:
        if self.mode == "none":
            return "engines left as they are (--engines none)"
        systemctl("start", *self.units)
        return f"{' '.join(self.units)} started"
