"""Atomic file writes and careful reads.

State and configuration are written to a temporary file in the same
directory, flushed and fsynced, then renamed over the target, so a crash
leaves either the old or the new file, never half of one. A file that
cannot be parsed is moved aside (never overwritten) and reported.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable


class CorruptFileError(Exception):
    """A file existed but could not be parsed; it was moved to `quarantined`."""

    def __init__(self, path: Path, quarantined: Path, reason: str):
        self.path, self.quarantined, self.reason = path, quarantined, reason
        super().__init__(f"{path} is unreadable ({reason}); kept aside as {quarantined}")


def write_bytes_atomic(path: Path | str, data: bytes, mode: int | None = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def write_text_atomic(path: Path | str, text: str, mode: int | None = None) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), mode)


def write_json_atomic(path: Path | str, obj: Any, mode: int | None = None, indent: int | None = 2) -> None:
    text = json.dumps(obj, indent=indent, sort_keys=False, ensure_ascii=False, default=_json_default)
    write_text_atomic(path, text + "\n", mode)


def _json_default(obj: Any) -> Any:
    from decimal import Decimal
    from enum import Enum
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(str(directory), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def quarantine(path: Path | str, tag: str = "corrupt") -> Path:
    """Move `path` aside as `<name>.<tag>-<timestamp>` and return the new path."""
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    target = path.with_name(f"{path.name}.{tag}-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{tag}-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    return target


def read_json_checked(path: Path | str, validate: Callable[[Any], Any] | None = None) -> Any | None:
    """Read a JSON file. Missing -> None. Unparsable or invalid -> moved aside, CorruptFileError raised.

    `validate` may transform the parsed object and raises ValueError when it does not fit.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        obj = json.loads(raw.decode("utf-8"))
        return validate(obj) if validate else obj
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        moved = quarantine(path)
        raise CorruptFileError(path, moved, reason) from None
