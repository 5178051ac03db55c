"""What the report says about the machine and the code: versions, CPU, load, the commit checked out."""
from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def git_commit(repo: Path = REPO) -> str:
    """The commit HEAD points at, read from .git without running git ('' when not a checkout)."""
    git = repo / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        loose = git / ref
        if loose.is_file():
            return loose.read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        pass
    return ""


def _mem_total_mib() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    try:
        version = metadata.version("mraster")
    except metadata.PackageNotFoundError:
        version = "unknown"
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {"python": sys.version.split()[0], "mraster": version, "commit": git_commit(),
            "platform": platform.platform(), "cpus": os.cpu_count(), "memory_mib": _mem_total_mib(),
            "load_average": load}
