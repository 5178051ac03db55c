"""Path settings saved from the dashboard stay inside the working directory.

Whoever holds the dashboard token can write `dashboard_config.json`. Without this
rule they could point ASTER_STATE_FILE at `~/.ssh/authorized_keys` or ASTER_LOG_DIR
at another user's files, and the bot would write there. So a path that comes from
the config file (or from a change request) must resolve, symlinks followed, inside
the config file's directory; the operator may still put any path in `.env` or the
environment. Replay data may also come from the datasets shipped in `mraster/data`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from mraster.settings.fields import FIELDS
from mraster.settings.schema import FieldSpec

CONFINED_SOURCES = ("config file", "request")
PACKAGE_DATA = Path(__file__).resolve().parent.parent / "data"
REPLAY_PREFIX = "replay:"


def is_path_setting(spec: FieldSpec) -> bool:
    return (spec.kind == "path" or "path" in spec.tags) and not spec.env_only


def paths_in(spec: FieldSpec, value: Any) -> list[str]:
    """The file-system paths one setting's value names (none for most settings)."""
    if not isinstance(value, str) or not value:
        return []
    if is_path_setting(spec):
        return [value]
    if spec.env == "ASTER_PAPER_FEED" and value.startswith(REPLAY_PREFIX):
        return [value[len(REPLAY_PREFIX):]]
    return []


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def outside_root(value: str, root: Path, *, read_only_data: bool = False) -> bool:
    """Does `value` (relative to `root`) resolve outside `root`? `..`, absolute paths and symlinks
    are all followed before the comparison."""
    p = Path(value).expanduser()
    real = os.path.realpath(p if p.is_absolute() else root / p)
    if _inside(real, os.path.realpath(root)):
        return False
    return not (read_only_data and _inside(real, os.path.realpath(PACKAGE_DATA)))


def confinement_problems(settings: Any, sources: Mapping[str, str], root: Path,
                         names: Iterable[str] | None = None) -> list[str]:
    """One message per path setting from a confined source that leaves `root`."""
    wanted = set(names) if names is not None else None
    problems = []
    for spec in FIELDS:
        if wanted is not None and spec.env not in wanted:
            continue
        source = sources.get(spec.env, "default")
        if source not in CONFINED_SOURCES:
            continue
        value = getattr(settings, spec.attr)
        for path in paths_in(spec, value):
            if outside_root(path, root, read_only_data=spec.env == "ASTER_PAPER_FEED"):
                problems.append(
                    f"{spec.env}={value!r} from {source}: paths saved from the dashboard must stay inside "
                    f"{root}; to use another place, set {spec.env} in .env or the environment")
    return problems
