"""Reading and changing settings from the dashboard.

Every change is validated against the one settings schema first; a single bad
value rejects the whole request and nothing is written. Good values go to
`dashboard_config.json` atomically, secrets to `.env` (mode 0600), and every
change is appended to the audit log with secrets masked. The bot and the guard
read the same files, so `live` settings reach a running process at its next
cycle; the others need a restart, which the result names.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from mraster.settings import FIELDS, FIELDS_BY_ENV, MASK, LoadedSettings, SettingsError, validate_updates
from mraster.settings.files import write_config_values, write_dotenv_values
from mraster.settings.loader import read_config_file

from dashboard.security import is_loopback_host

_SCALARS = (str, int, float, bool)
OVERRIDING_SOURCES = ("environment", "cli")
# read by the dashboard on every request, so a new token (e.g. after a leak) counts at once
LIVE_IN_DASHBOARD = {"ASTER_DASHBOARD_TOKEN"}
# where the dashboard itself reads files (DashboardPaths is built once, at start)
READ_BY_DASHBOARD = {"ASTER_STATE_FILE", "ASTER_LOG_DIR", "ASTER_RUN_DIR"}


# Where orders and keys go: moving these to an unknown host from the page needs an explicit confirmation
# (a stolen session could otherwise send the signed requests, and the API key, to a look-alike venue).
CONFIRMED_HOSTS = ("ASTER_EXCHANGE_BASE", "ASTER_WS_BASE", "ASTER_PAPER_URL")
KNOWN_VENUE_HOSTS = frozenset({
    "fapi.asterdex.com", "fstream.asterdex.com", "fapi3.asterdex.com", "fstream3.asterdex.com",
    "fapi.asterdex-testnet.com", "fstream.asterdex-testnet.com",
    "fapi.binance.com", "fstream.binance.com", "testnet.binancefuture.com", "stream.binancefuture.com",
    "fstream.binancefuture.com", "demo-fapi.binance.com", "demo-fstream.binance.com",
})
CONFIRM_KEY = "_confirm_hosts"


def known_hosts() -> frozenset[str]:
    """The built-in list, plus the hosts of the venue profiles when the client defines them."""
    try:
        from mraster.exchange.profiles import PROFILES  # type: ignore[import-not-found]
    except ImportError:
        return KNOWN_VENUE_HOSTS
    extra = {h for p in PROFILES.values() for h in getattr(p, "hosts", ())}
    return KNOWN_VENUE_HOSTS | extra


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_known_host(name: str, url: str) -> bool:
    """Loopback, or a known venue host reached over TLS (http:// to a real venue sends the key in clear)."""
    host = host_of(url)
    if is_loopback_host(host):
        return True
    secure = urlsplit(url).scheme in ("https", "wss")
    return name != "ASTER_PAPER_URL" and secure and host in known_hosts()


class ConfirmationRequired(Exception):
    """409: the change points the venue at a host outside the known list; nothing was written."""

    def __init__(self, hosts: Mapping[str, str]):
        self.hosts = dict(hosts)
        listed = ", ".join(f"{name} -> {host}" for name, host in self.hosts.items())
        super().__init__(f"{listed}: not a known venue host reached over https/wss. Orders, signed requests "
                         "and the API key would go there. Check the address, then confirm to save it.")


class ConfigValidationError(Exception):
    """422: one message per bad field; nothing was written."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass
class ChangeResult:
    changed: list[str] = field(default_factory=list)
    applies_live: list[str] = field(default_factory=list)
    needs_restart: dict[str, list[str]] = field(default_factory=dict)  # process -> settings
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"changed": self.changed, "applies_live": self.applies_live,
                "needs_restart": self.needs_restart, "warnings": self.warnings}


def processes_affected(name: str) -> list[str]:
    """Which processes read a setting at start (so need a restart when it changes)."""
    spec = FIELDS_BY_ENV[name]
    if spec.group == "dashboard":
        return ["dashboard"]
    if name in READ_BY_DASHBOARD:
        return ["bot", "guard", "dashboard"]
    if spec.group == "paper":
        return ["paper", "bot", "guard"] if name == "ASTER_PAPER_URL" else ["paper"]
    if spec.group == "policy":
        return ["bot"]
    return ["bot", "guard"]


class AuditLog:
    """Append-only JSON lines: who changed what, when; secrets are masked before writing."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, who: str, action: str, changes: list[dict[str, Any]], **extra: Any) -> None:
        record = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "who": who, "action": action,
                  "changes": changes, **extra}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def recent(self, limit: int = 50, tail_bytes: int = 1_000_000) -> list[dict[str, Any]]:
        """The last `limit` entries, read from the file's end only: the audit log is kept whole (it is
        the record of who changed what), so it grows with the years and is never read whole."""
        try:
            with open(self.path, "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(0, size - tail_bytes))
                data = fh.read()
        except FileNotFoundError:
            return []
        lines = data.decode("utf-8", "replace").splitlines()
        if size > tail_bytes and lines:
            lines = lines[1:]                                   # the first line may be cut
        out = []
        for line in lines[-limit:]:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out[::-1]


def shown_value(name: str, value: Any) -> Any:
    """What may leave the process: secrets only as set/unset."""
    spec = FIELDS_BY_ENV[name]
    if spec.secret:
        return MASK if value else ""
    return spec.to_raw(value)


class ConfigStore:
    def __init__(self, loader: Callable[[], LoadedSettings], loaded: LoadedSettings, audit: AuditLog):
        self._loader = loader
        self._loaded = loaded
        self.audit = audit
        self._lock = asyncio.Lock()
        self.config_file: Path = loaded.config_file or Path("dashboard_config.json")
        self.dotenv_file: Path = loaded.dotenv_file or Path(".env")

    @property
    def loaded(self) -> LoadedSettings:
        return self._loaded

    @property
    def settings(self) -> Any:
        return self._loaded.settings

    def reload(self) -> LoadedSettings:
        self._loaded = self._loader()
        return self._loaded

    # ------------------------------------------------------------------ reading
    def effective(self) -> dict[str, Any]:
        loaded = self._loaded
        public = loaded.public_values()
        values = {}
        for spec in FIELDS:
            source = loaded.source_of(spec.env)
            values[spec.env] = {"value": public[spec.env], "source": source,
                                "overridden": source in OVERRIDING_SOURCES}
        return {"values": values, "warnings": list(loaded.warnings), "config_file": str(self.config_file),
                "dotenv_file": str(self.dotenv_file)}

    # ------------------------------------------------------------------ writing
    def check(self, updates: Mapping[str, Any], *, replace_all: bool = False) -> dict[str, Any]:
        """Validate a request; returns the raw values to write (None = back to the default).
        Raises ConfigValidationError with one message per bad field."""
        if not isinstance(updates, Mapping):
            raise ConfigValidationError({"_": "the body must be a JSON object of NAME: value pairs"})
        errors: dict[str, str] = {}
        wanted: dict[str, Any] = {}
        for name, raw in updates.items():
            spec = FIELDS_BY_ENV.get(name)
            if spec is not None and spec.secret and raw == MASK:
                continue  # the masked value the page shows back: unchanged
            if raw is not None and not isinstance(raw, _SCALARS) and not (
                    isinstance(raw, list) and all(isinstance(x, str) for x in raw)):
                errors[name] = f"{name}: expected a single value, not {type(raw).__name__}"
                continue
            wanted[name] = raw
        if replace_all:
            for name in read_config_file(self.config_file):
                if name in FIELDS_BY_ENV and name not in wanted:
                    wanted[name] = None
        to_validate = {name: (FIELDS_BY_ENV[name].default if raw is None and name in FIELDS_BY_ENV else raw)
                       for name, raw in wanted.items()}
        errors.update(validate_updates(self._loaded, to_validate, label="request"))
        if errors:
            raise ConfigValidationError(errors)
        return wanted

    def candidate(self, wanted: Mapping[str, Any]) -> Any:
        """The settings a checked change would give (None = the default), for the guard-rails."""
        values = {}
        for name, raw in wanted.items():
            spec = FIELDS_BY_ENV.get(name)
            if spec is not None and not spec.secret:
                values[spec.attr] = spec.default if raw is None else spec.parse(raw, "request")
        return self.settings.with_values(**values)

    def unconfirmed_hosts(self, wanted: Mapping[str, Any], confirmed: Any) -> dict[str, str]:
        """Venue addresses in `wanted` that move to an unknown host the caller has not confirmed."""
        ok = {str(h).lower() for h in confirmed} if isinstance(confirmed, (list, tuple)) else (
            {confirmed.lower()} if isinstance(confirmed, str) else set())
        out = {}
        for name in CONFIRMED_HOSTS:
            raw = wanted.get(name)
            if raw is None:
                continue
            url = FIELDS_BY_ENV[name].parse(raw, "request")
            if url == self.settings.value(name) or is_known_host(name, url) or host_of(url) in ok:
                continue
            out[name] = host_of(url)
        return out

    async def apply(self, updates: Mapping[str, Any], *, who: str, action: str = "config.patch",
                    replace_all: bool = False) -> ChangeResult:
        """Validate, write and audit. File writes (fsync) and the reload run in a worker thread, so
        the event loop keeps serving the page, the log stream and the supervisor meanwhile."""
        confirmed: Any = None
        if isinstance(updates, Mapping) and CONFIRM_KEY in updates:
            updates = dict(updates)
            confirmed = updates.pop(CONFIRM_KEY)
        async with self._lock:
            wanted = self.check(updates, replace_all=replace_all)
            unknown = self.unconfirmed_hosts(wanted, ())
            if self.unconfirmed_hosts(wanted, confirmed):
                raise ConfirmationRequired(unknown)
            before = self._loaded
            config_updates: dict[str, Any] = {}
            secret_updates: dict[str, str | None] = {}
            for name, raw in wanted.items():
                spec = FIELDS_BY_ENV[name]
                typed = None if raw is None else spec.parse(raw, "request")
                if spec.secret:
                    secret_updates[name] = typed or None
                else:
                    config_updates[name] = typed
            try:
                after = await asyncio.to_thread(self._write, config_updates, secret_updates)
            except SettingsError as exc:
                raise ConfigValidationError({"_": str(exc)}) from None
            self._loaded = after
            result = self._describe(before, after, wanted)
            if result.changed:
                changes = [{"name": n, "old": shown_value(n, before.settings.value(n)),
                            "new": shown_value(n, after.settings.value(n))} for n in result.changed]
                extra = {"confirmed_hosts": sorted(set(unknown.values()))} if unknown else {}
                await asyncio.to_thread(self.audit.append, who, action, changes, **extra)
            return result

    def _write(self, config_updates: Mapping[str, Any], secret_updates: Mapping[str, str | None]) -> LoadedSettings:
        if config_updates:
            write_config_values(self.config_file, config_updates)
        if secret_updates:
            write_dotenv_values(self.dotenv_file, secret_updates)
        return self._loader()

    def _describe(self, before: LoadedSettings, after: LoadedSettings, wanted: Mapping[str, Any]) -> ChangeResult:
        result = ChangeResult()
        for name in wanted:
            spec = FIELDS_BY_ENV[name]
            if after.source_of(name) in OVERRIDING_SOURCES:
                result.warnings.append(
                    f"{name} is also set in the dashboard's {after.source_of(name)}, which wins over the "
                    "saved value: the change has no effect until that is removed")
            if before.settings.value(name) == after.settings.value(name):
                continue
            result.changed.append(name)
            if spec.live or name in LIVE_IN_DASHBOARD:
                result.applies_live.append(name)
            else:
                for proc in processes_affected(name):
                    result.needs_restart.setdefault(proc, []).append(name)
        return result
