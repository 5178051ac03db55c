"""Who is this pid, really? Process identity from /proc and the pid files built on it.

A pid alone is not an identity: after a reboot or a long uptime the kernel hands
the same number to another program. A pid file therefore records the pid, the
process start time (field 22 of /proc/<pid>/stat, in clock ticks since boot) and
the command line; a restarted dashboard adopts a child only when all three still
match.
"""
from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mraster.storage.atomic import quarantine, write_json_atomic

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    start_ticks: int
    cmdline: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        # "start_time" is the key the bot uses for the paper exchange it starts (mraster/paper_launch.py)
        return {"pid": self.pid, "start_time": self.start_ticks, "cmdline": list(self.cmdline)}


@dataclass(frozen=True)
class PidRecord:
    """What a pid file holds: the identity plus facts for the page (name, wall-clock start)."""
    name: str
    identity: ProcessIdentity
    started_ms: int
    cwd: str

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": 1, "name": self.name, **self.identity.to_json(),
                "started_ms": self.started_ms, "cwd": self.cwd}


def read_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start ticks) of a live pid, None when there is no such process."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    rest = text[text.rfind(")") + 2:].split()
    try:
        return rest[0], int(rest[19])
    except (IndexError, ValueError):
        return None


def read_cmdline(pid: int) -> tuple[str, ...] | None:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return tuple(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)


def identity_of(pid: int) -> ProcessIdentity | None:
    stat = read_stat(pid)
    cmdline = read_cmdline(pid)
    if stat is None or cmdline is None:
        return None
    return ProcessIdentity(pid, stat[1], cmdline)


def started_ms(identity: ProcessIdentity) -> int:
    """Wall-clock start of a process, from boot time plus its start ticks (0 when unknown)."""
    try:
        for line in (PROC / "stat").read_text().splitlines():
            if line.startswith("btime "):
                return int((int(line.split()[1]) + identity.start_ticks / os.sysconf("SC_CLK_TCK")) * 1000)
    except (OSError, ValueError):
        pass
    return 0


def is_alive(identity: ProcessIdentity) -> bool:
    """True while the very process of `identity` runs (not a zombie, not a reused pid)."""
    stat = read_stat(identity.pid)
    return stat is not None and stat[0] not in ("Z", "X") and stat[1] == identity.start_ticks


def signal_group(identity: ProcessIdentity, sig: signal.Signals) -> bool:
    """Signal the child's process group (it leads its own session); only if it is still the same
    process, so a reused pid is never hit. Returns False when it was already gone."""
    if not is_alive(identity):
        return False
    try:
        os.killpg(identity.pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        os.kill(identity.pid, sig)
    return True


def write_pid_file(path: Path, record: PidRecord) -> None:
    write_json_atomic(path, record.to_json())


def remove_pid_file(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


class PidFileProblem(Exception):
    """A pid file exists but cannot be trusted; the message tells the user what was found."""


def read_pid_file(path: Path) -> PidRecord | None:
    """The record in `path`; None when there is none. Unreadable files are moved aside
    (never deleted) and reported through PidFileProblem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        start = data.get("start_time", data.get("start_ticks"))
        identity = ProcessIdentity(int(data["pid"]), int(start), tuple(str(x) for x in data["cmdline"]))
        return PidRecord(str(data.get("name", path.stem)), identity, int(data.get("started_ms", 0)),
                         str(data.get("cwd", "")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        moved = quarantine(path)
        raise PidFileProblem(f"pid file {path} is unreadable ({type(exc).__name__}); moved to {moved.name}") \
            from None


def find_unrecorded(cmdline: tuple[str, ...], cwd: Path, exclude: set[int]) -> list[int]:
    """Pids running exactly `cmdline` in `cwd` that no pid file names (e.g. the file was deleted)."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        pid = int(entry.name)
        if read_cmdline(pid) != cmdline:
            continue
        try:
            if Path(os.readlink(entry / "cwd")) != cwd:
                continue
        except OSError:
            continue
        stat = read_stat(pid)
        if stat is not None and stat[0] not in ("Z", "X"):
            found.append(pid)
    return found
