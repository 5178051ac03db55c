"""Engine kinds: what the control center knows about each kind of trading process.

A kind is data, declared once in `mraster/engines/kinds/<kind>.py` as `KIND = EngineKind(...)`:
the command that runs an instance, the settings group with the seed's names and defaults, the
accounts it trades (one role per account: the scanner trades one, seed 003's maker trades two),
where its status and state files go, and what the dashboard shows. Supervision, settings, accounts,
order ownership, the journal and logs come from the kernel for every kind; a new engine is one
package plus one file here. The registry names modules as strings, so the kernel imports no engine.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Literal

from mraster.settings.schema import FieldSpec

GuardScope = Literal["protect", "leave"]
KIND_RE = re.compile(r"^[a-z][a-z0-9]{1,19}$")
ROLE_RE = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
SETTING_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")


@dataclass(frozen=True)
class EngineKind:
    """One kind of engine. `settings` uses the seed's names (e.g. seed 004's `LEVERAGE`); they are scoped
    per instance, so they never meet the scanner's flat `ASTER_*` names. A kind with `flat_settings`
    (the scanner) runs on the flat `ASTER_*` settings, which an instance may override field by field.

    `guard_default` says what the guard does with positions this kind opens unless the user chooses
    otherwise: `protect` (stop and take-profit on every one) or `leave` (a maker's inventory, a
    delta-neutral pair: an unwanted stop would break the strategy).

    A kind that trades nothing (`trades=False`, the market-data recorder) may have no account role: its
    instances name no account, get no guard and need no credentials. `exclusive` names settings no two
    enabled instances of the kind may share a value of (a list setting: an item), e.g. the recorder's
    SYMBOLS, so two recorders never write the same rows."""
    name: str
    title: str
    module: str                                   # `python -m <module> --instance <name>`
    description: str
    settings: tuple[FieldSpec, ...] = ()
    flat_settings: bool = False
    account_roles: tuple[str, ...] = ("account",)
    status_file: str = "{instance}.status.json"   # under ASTER_RUN_DIR
    state_file: str = "{instance}.state.json"     # under ASTER_RUN_DIR
    page: str = "engine"                          # dashboard route `#/<page>/<instance>`
    guard_default: GuardScope = "protect"
    trades: bool = True                           # it writes trades to the journal
    tags: tuple[str, ...] = field(default=())
    exclusive: tuple[str, ...] = ()               # settings two enabled instances may not share

    def __post_init__(self) -> None:
        problems = []
        if not KIND_RE.match(self.name):
            problems.append(f"name {self.name!r}: lower-case letters and digits, 2-20 characters")
        if any(not ROLE_RE.match(r) for r in self.account_roles):
            problems.append(f"account_roles {self.account_roles!r}: lower-case words")
        if self.trades and not self.account_roles:
            problems.append("a kind that trades needs at least one account role")
        if len(set(self.account_roles)) != len(self.account_roles):
            problems.append(f"account_roles {self.account_roles!r} repeat a role")
        names = [f.env for f in self.settings]
        if len(set(names)) != len(names):
            problems.append("settings repeat a name")
        problems += [f"setting {n!r}: letters, digits and _ (it becomes MRASTER_<INSTANCE>__{n})"
                     for n in names if not SETTING_RE.match(n)]
        problems += [f"exclusive setting {n!r} is not one of its settings" for n in self.exclusive if n not in names]
        for template in (self.status_file, self.state_file):
            if "{instance}" not in template:
                problems.append(f"file name {template!r} must contain {{instance}} (two instances never share a file)")
        if problems:
            raise ValueError(f"engine kind {self.name!r}: " + "; ".join(problems))

    def field(self, name: str) -> FieldSpec:
        for spec in self.settings:
            if spec.env == name:
                return spec
        known = ", ".join(f.env for f in self.settings) or "none"
        raise KeyError(f"{self.name} has no setting {name!r} (its settings: {known})")

    def defaults(self) -> dict[str, object]:
        return {f.env: f.default for f in self.settings}


def all_kinds() -> dict[str, EngineKind]:
    """Every kind declared under mraster/engines/kinds, by name (sorted)."""
    package = importlib.import_module("mraster.engines.kinds")
    found: dict[str, EngineKind] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        kind = getattr(module, "KIND", None)
        if not isinstance(kind, EngineKind):
            raise TypeError(f"mraster/engines/kinds/{info.name}.py must define KIND = EngineKind(...)")
        if kind.name in found:
            raise ValueError(f"two engine kinds are named {kind.name!r}")
        found[kind.name] = kind
    return found


def get_kind(name: str) -> EngineKind:
    known = all_kinds()
    if name not in known:
        raise KeyError(f"unknown engine kind {name!r}; known: {', '.join(known)}")
    return known[name]
