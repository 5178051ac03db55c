"""Where recorders write their CSV days, for the recorder (writer), the store and the dashboard (readers).

    <log dir>/                         the classic recorder (`mraster record --log-dir <log dir>`)
    <log dir>/recorders/<instance>/    each recorder engine instance (`mraster record --instance NAME`)

Each instance has a directory of its own rather than a share of one directory because every CSV family
is one file per day (`kline_YYYYMMDD.csv`, ...): two processes appending to one file would interleave
lines, and each recorder repairs a torn last line of *its* files at start and holds a lock on its
directory. With one directory per instance no two recorders ever open the same file, a recorder's files
keep the seed's names, and removing an instance leaves its days where they are. Readers take every
directory (`recorder_dirs`): the store loads a day from all of them into one partition per table.
"""
from __future__ import annotations

import re
from pathlib import Path

RECORDERS_DIR = "recorders"
CLASSIC = ""                                   # the source name of the log directory itself
_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")  # an instance name (mraster.domain.ownership)


def instance_dir(log_dir: Path | str, instance: str) -> Path:
    """The CSV directory of recorder instance `instance`."""
    if not _NAME_RE.match(instance):
        raise ValueError(f"recorder instance name {instance!r}: a lower-case letter then up to 9 letters or digits")
    return Path(log_dir) / RECORDERS_DIR / instance


def recorder_dirs(log_dir: Path | str) -> list[tuple[str, Path]]:
    """(source name, directory) of every recorder under `log_dir`: the log directory itself first (source
    name ""), then each instance directory by name. Only existing instance directories are listed."""
    root = Path(log_dir)
    out: list[tuple[str, Path]] = [(CLASSIC, root)]
    sub = root / RECORDERS_DIR
    if sub.is_dir():
        out += [(d.name, d) for d in sorted(sub.iterdir(), key=lambda p: p.name)
                if d.is_dir() and _NAME_RE.match(d.name)]
    return out


__all__ = ["CLASSIC", "RECORDERS_DIR", "instance_dir", "recorder_dirs"]
