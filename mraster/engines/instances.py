"""Engine instances: which engines run, under which names, on which accounts, with which settings.

They live in `engines.json` next to the config file (written by the dashboard, atomically):

    {"instances": [
      {"name": "scanner", "kind": "scanner", "accounts": {"account": "main"}},
      {"name": "scan2", "kind": "scanner", "accounts": {"account": "B"},
       "settings": {"ASTER_INCLUDE_SYMBOLS": "ETHUSDT,SOLUSDT", "ASTER_LEVERAGE": 3}, "guard": "protect"}]}

No file means one scanner instance `scanner` on account `main` with the flat `ASTER_*` settings: a user
who runs only the scanner never sees this file. A file that cannot be read is moved aside and reported
(`CorruptFileError`), never overwritten in place.

An instance's settings resolve as: the kind's defaults < the file's `settings` < the environment's
`MRASTER_<INSTANCE>__<NAME>` (e.g. `MRASTER_DN1__LEVERAGE=3`), each parsed by the setting's FieldSpec.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mraster.accounts import DEFAULT_ACCOUNT, check_account_name
from mraster.domain.ownership import DEFAULT_SCANNER, check_instance_name
from mraster.engines.registry import EngineKind, GuardScope, all_kinds
from mraster.settings.fields import FIELDS
from mraster.settings.schema import FieldError, FieldSpec
from mraster.storage.atomic import read_json_checked, write_json_atomic

FILE_NAME = "engines.json"
# Names of the control center's own processes and log sources: no instance may take them.
RESERVED_NAMES = frozenset({"bot", "guard", "paper", "dashboard", "all", "trial", "recorder"})
ENV_INSTANCE, ENV_ACCOUNT = "MRASTER_INSTANCE", "MRASTER_ACCOUNT"
# Flat ASTER_* settings an instance of a flat-settings kind may set for itself: what it trades and how.
# Exchange, credentials, paths, paper and dashboard settings belong to the account or the installation.
INSTANCE_GROUPS = ("universe", "signals", "sizing", "risk", "fasttp", "policy")
FLAT_FIELDS: dict[str, FieldSpec] = {f.env: f for f in FIELDS if f.group in INSTANCE_GROUPS and not f.secret}


class InstanceError(ValueError):
    """The instance list or one instance is wrong; the message says which field and why."""


@dataclass(frozen=True)
class EngineInstance:
    name: str
    kind: str
    accounts: tuple[tuple[str, str], ...] = (("account", DEFAULT_ACCOUNT),)   # (role, account name)
    settings: tuple[tuple[str, Any], ...] = ()
    guard: GuardScope | None = None          # None = the kind's default
    enabled: bool = True

    @property
    def account(self) -> str:
        """The account of the first role (the only one for single-account kinds); "" for a kind with no
        account (the recorder trades nothing)."""
        return self.accounts[0][1] if self.accounts else ""

    def account_for(self, role: str) -> str:
        return dict(self.accounts)[role]

    def guard_scope(self, engine_kind: EngineKind) -> GuardScope:
        return self.guard or engine_kind.guard_default

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "accounts": dict(self.accounts)}
        if self.settings:
            out["settings"] = dict(self.settings)
        if self.guard:
            out["guard"] = self.guard
        if not self.enabled:
            out["enabled"] = False
        return out


def default_instances() -> list[EngineInstance]:
    return [EngineInstance(DEFAULT_SCANNER, "scanner")]


def setting_specs(engine_kind: EngineKind) -> dict[str, FieldSpec]:
    """The settings an instance of this kind may set, by name."""
    return dict(FLAT_FIELDS) if engine_kind.flat_settings else {f.env: f for f in engine_kind.settings}


def parse_instance(obj: Any, known: Mapping[str, EngineKind] | None = None) -> EngineInstance:
    """One instance from its JSON form; InstanceError naming the field otherwise."""
    known = all_kinds() if known is None else known
    if not isinstance(obj, dict):
        raise InstanceError(f"an instance must be an object, not {type(obj).__name__}")
    unknown = set(obj) - {"name", "kind", "accounts", "settings", "guard", "enabled"}
    if unknown:
        raise InstanceError(f"instance {obj.get('name')!r}: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        name = check_instance_name(obj.get("name", ""))
    except ValueError as exc:
        raise InstanceError(str(exc)) from None
    if name in RESERVED_NAMES:
        raise InstanceError(f"instance name {name!r} is taken by a process of the control center "
                            f"({', '.join(sorted(RESERVED_NAMES))}); choose another")
    kind_name = str(obj.get("kind"))
    if kind_name not in known:
        raise InstanceError(f"instance {name}: kind {kind_name!r} is not one of {', '.join(known)}")
    engine_kind = known[kind_name]
    raw_accounts = obj.get("accounts", {role: DEFAULT_ACCOUNT for role in engine_kind.account_roles})
    if not engine_kind.account_roles and raw_accounts not in ({}, None):
        raise InstanceError(f"instance {name}: a {kind_name} trades nothing and takes no accounts")
    raw_accounts = raw_accounts or {}
    if not isinstance(raw_accounts, dict) or set(raw_accounts) != set(engine_kind.account_roles):
        raise InstanceError(f"instance {name}: accounts must name exactly the roles "
                            f"{', '.join(engine_kind.account_roles)} of {kind_name}, e.g. "
                            f"{ {r: DEFAULT_ACCOUNT for r in engine_kind.account_roles} }")
    try:
        accounts = tuple((role, check_account_name(str(raw_accounts[role]))) for role in engine_kind.account_roles)
    except ValueError as exc:
        raise InstanceError(f"instance {name}: {exc}") from None
    if len({acc for _, acc in accounts}) != len(accounts):
        raise InstanceError(f"instance {name}: each role of {kind_name} needs its own account")
    raw_settings = obj.get("settings", {})
    if not isinstance(raw_settings, dict):
        raise InstanceError(f"instance {name}: settings must be an object")
    specs = setting_specs(engine_kind)
    parsed: list[tuple[str, Any]] = []
    for key in sorted(raw_settings):
        if key not in specs:
            raise InstanceError(f"instance {name}: {key} is not a setting of {kind_name} "
                                f"(settings: {', '.join(specs) or 'none'})")
        try:
            parsed.append((key, specs[key].parse(raw_settings[key], f"{FILE_NAME} instance {name}")))
        except FieldError as exc:
            raise InstanceError(str(exc)) from None
    guard = obj.get("guard")
    if guard not in (None, "protect", "leave"):
        raise InstanceError(f"instance {name}: guard must be 'protect' or 'leave', not {guard!r}")
    enabled = obj.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InstanceError(f"instance {name}: enabled must be true or false")
    return EngineInstance(name, kind_name, accounts, tuple(parsed), guard, enabled)


def parse_instances(obj: Any, known: Mapping[str, EngineKind] | None = None) -> list[EngineInstance]:
    if not isinstance(obj, dict) or not isinstance(obj.get("instances"), list):
        raise InstanceError(f'{FILE_NAME} must be an object with a list "instances"')
    out = [parse_instance(item, known) for item in obj["instances"]]
    names = [i.name for i in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InstanceError(f"instance name(s) used twice: {', '.join(twice)}")
    return out


def instances_file(config_file: Path | str) -> Path:
    return Path(config_file).resolve().with_name(FILE_NAME)


def load_instances(path: Path | str) -> list[EngineInstance]:
    """The instances of `engines.json`; the default scanner when there is no file.
    Unreadable or invalid: the file is moved aside and CorruptFileError raised (the caller reports it)."""
    data = read_json_checked(path, validate=lambda obj: parse_instances(obj))
    return default_instances() if data is None else data


def save_instances(path: Path | str, instances: Iterable[EngineInstance]) -> None:
    items = list(instances)
    parse_instances({"instances": [i.to_json() for i in items]})     # the same rules as on load
    write_json_atomic(path, {"instances": [i.to_json() for i in items]})


def _items(value: Any) -> set[str]:
    return {str(v) for v in value} if isinstance(value, (list, tuple, set, frozenset)) else {str(value)}


def exclusive_conflicts(candidate: EngineInstance, instances: Iterable[EngineInstance],
                        known: Mapping[str, EngineKind] | None = None,
                        environ: Mapping[str, str] | None = None) -> list[str]:
    """Why `candidate` may not run beside the other enabled instances of its kind: a value of one of the
    kind's `exclusive` settings (a list: an item) another one has too. Empty when it may (or is disabled)."""
    known = all_kinds() if known is None else known
    engine_kind = known[candidate.kind]
    if not engine_kind.exclusive or not candidate.enabled:
        return []
    mine = instance_settings(engine_kind, candidate, environ)
    out = []
    for other in instances:
        if other.name == candidate.name or other.kind != candidate.kind or not other.enabled:
            continue
        theirs = instance_settings(engine_kind, other, environ)
        for name in engine_kind.exclusive:
            shared = sorted(_items(mine[name]) & _items(theirs[name]))
            if shared:
                out.append(f"{name} {', '.join(shared)} {'is' if len(shared) == 1 else 'are'} already taken by "
                           f"{engine_kind.name} instance {other.name}")
    return out


def env_name(instance: str, setting: str) -> str:
    return f"MRASTER_{instance.upper()}__{setting}"


def instance_settings(engine_kind: EngineKind, instance: EngineInstance,
                      environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The instance's typed settings: kind defaults < engines.json < MRASTER_<INSTANCE>__<NAME>.
    For a flat-settings kind only the instance's own overrides (the rest is the flat file)."""
    env = os.environ if environ is None else environ
    specs = setting_specs(engine_kind)
    values: dict[str, Any] = {} if engine_kind.flat_settings else engine_kind.defaults()
    values.update(dict(instance.settings))
    for name, spec in specs.items():
        var = env_name(instance.name, name)
        if var in env:
            values[name] = spec.parse(env[var], f"environment {var}")
    return values


def instance_paths(settings: Any, instance: str) -> dict[str, Any]:
    """Per-instance files of a flat-settings kind: the default scanner keeps the flat paths; another
    instance gets `<stem>.<instance><suffix>` beside them, so two instances never share state."""
    if instance == DEFAULT_SCANNER:
        return {}
    state = Path(settings.state_file)
    return {"state_file": str(state.with_name(f"{state.stem}.{instance}{state.suffix}"))}


def resolve_flat(settings: Any, engine_kind: EngineKind, instance: EngineInstance,
                 environ: Mapping[str, str] | None = None) -> Any:
    """The Settings of one instance of a flat-settings kind (before its account is applied)."""
    overrides = {FLAT_FIELDS[name].attr: value
                 for name, value in instance_settings(engine_kind, instance, environ).items()}
    return replace(settings, **overrides, **instance_paths(settings, instance.name))
