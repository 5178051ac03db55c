"""Writing configuration: dashboard_config.json (no secrets) and .env (secrets, mode 0600)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

from mraster.storage.atomic import write_json_atomic, write_text_atomic
from mraster.settings.fields import FIELDS_BY_ENV
from mraster.settings.loader import SettingsError, read_config_file

_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def write_config_values(path: Path, updates: Mapping[str, Any]) -> dict[str, Any]:
    """Merge non-secret `updates` (typed values) into the JSON config file atomically.

    A value of None removes the key (back to the default). Returns the new file content.
    Refuses secrets: they belong in .env.
    """
    current = read_config_file(path)
    for key, value in updates.items():
        spec = FIELDS_BY_ENV.get(key)
        if spec is None or spec.secret or spec.env_only:
            raise SettingsError([f"{key} cannot be written to {path.name}"])
        if value is None:
            current.pop(key, None)
        else:
            current[key] = spec.to_raw(value)
    ordered = {k: current[k] for k in sorted(current, key=_order_key)}
    write_json_atomic(path, ordered)
    return ordered


def _order_key(key: str) -> tuple[int, str]:
    from mraster.settings.fields import FIELDS
    index = {f.env: i for i, f in enumerate(FIELDS)}
    return (index.get(key, 10_000), key)


def _quote(value: str) -> str:
    if value == "" or re.search(r"[\s#'\"\\$]", value):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return value


def write_dotenv_values(path: Path, updates: Mapping[str, str | None]) -> None:
    """Set or remove keys in a .env file atomically, keeping other lines, with mode 0600."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    pending = dict(updates)
    out: list[str] = []
    for line in lines:
        m = _DOTENV_LINE.match(line)
        if m and m.group(1) in pending:
            value = pending.pop(m.group(1))
            if value is not None:
                out.append(f"{m.group(1)}={_quote(value)}")
            continue
        out.append(line)
    for key, value in pending.items():
        if value is not None:
            out.append(f"{key}={_quote(value)}")
    write_text_atomic(path, "\n".join(out) + ("\n" if out else ""), mode=0o600)
