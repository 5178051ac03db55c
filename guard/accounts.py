"""What one guard process guards: an account, the instances on it, their state files, the scope rule.

    mraster guard                          the main account (or MRASTER_ACCOUNT)
    mraster guard --account B              account B (ASTER_B_KEY/_SECRET, or paper-b in paper mode)
    mraster guard --instances scan2,mom1   only positions these instances opened (+ ASTER_GUARD_MANUAL)

Files: the main account's guard keeps `run/guard_status.json` and `logs/guard.jsonl`; the guard of a
named account `B` writes `run/guard_status.B.json` and `logs/guard-B.jsonl`, so one guard per account
runs side by side. It reads the state file of every scanner instance on its account (intended levels)
and every instance's status file (claims, mraster/engines/owners.py) to know whose each position is.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mraster.accounts import DEFAULT_ACCOUNT, AccountError, account_env, load_accounts, settings_for_account
from mraster.engines import (
    ENV_ACCOUNT, EngineInstance, InstanceError, get_kind, instances_file, load_instances, resolve_flat,
)
from mraster.engines.owners import AccountOwners, on_account
from mraster.logs import get_logger
from mraster.storage.atomic import CorruptFileError

from guard.scope import ScopeRule

STATUS_FILE = "guard_status.json"


class SetupError(ValueError):
    """The account or instance list given to the guard is wrong; the message says what to fix."""


@dataclass
class GuardSetup:
    loaded: Any
    account: str
    only: frozenset[str] | None
    instances: list[EngineInstance]
    settings: Any

    @classmethod
    def build(cls, loaded: Any, account: str | None = None, only: str | None = None) -> "GuardSetup":
        name = (account or os.environ.get(ENV_ACCOUNT) or DEFAULT_ACCOUNT).strip()
        name = name if name == DEFAULT_ACCOUNT else name.upper()
        try:
            accounts = load_accounts(account_env(loaded.dotenv_file))
        except AccountError as exc:
            raise SetupError(str(exc)) from None
        if name not in accounts:
            raise SetupError(f"account {name} is not declared: set ASTER_{name}_KEY and ASTER_{name}_SECRET in .env "
                             f"(or ASTER_ACCOUNTS={name} in paper mode); declared: {', '.join(accounts)}")
        instances = _instances(loaded)
        chosen = frozenset(x.strip() for x in only.split(",") if x.strip()) if only else None
        if chosen is not None:
            unknown = sorted(chosen - {i.name for i in instances})
            if unknown:
                raise SetupError(f"--instances names unknown instance(s) {', '.join(unknown)} (engines.json has "
                                 f"{', '.join(i.name for i in instances)})")
        settings = settings_for_account(loaded.settings, accounts[name])
        return cls(loaded, name, chosen, instances, settings)

    def for_account(self, fresh: Any) -> Any:
        """Reloaded flat settings, with this guard's account applied again."""
        accounts = load_accounts(account_env(self.loaded.dotenv_file))
        return settings_for_account(fresh, accounts[self.account]) if self.account in accounts else fresh

    @property
    def log_source(self) -> str:
        return "guard" if self.account == DEFAULT_ACCOUNT else f"guard-{self.account}"

    @property
    def status_path(self) -> Path:
        name = STATUS_FILE if self.account == DEFAULT_ACCOUNT else f"guard_status.{self.account}.json"
        return Path(self.settings.run_dir) / name

    @property
    def state_paths(self) -> list[Path]:
        """The state file of every scanner instance on the account (the flat one for the default scanner).
        No scanner on the account: the flat state file for the main account (as before), none for another."""
        paths = []
        for inst in on_account(self.instances, self.account):
            kind = get_kind(inst.kind)
            if kind.flat_settings:
                paths.append(Path(resolve_flat(self.loaded.settings, kind, inst).state_file))
        if paths or self.account != DEFAULT_ACCOUNT:
            return paths
        return [Path(self.settings.state_file)]

    def owners(self) -> AccountOwners | None:
        try:
            return AccountOwners(Path(self.settings.run_dir), self.account, _instances(self.loaded)).refresh()
        except (InstanceError, KeyError, ValueError, OSError) as exc:
            get_logger("guard").warning("owners.unavailable", f"engines.json not read ({exc}); judging owners by "
                                        "resting orders only")
            return AccountOwners(Path(self.settings.run_dir), self.account, []).refresh()

    def rule(self) -> ScopeRule:
        """The scope, re-read each check (ASTER_GUARD_MANUAL is live; engines.json may change)."""
        try:
            owners = AccountOwners(Path(self.settings.run_dir), self.account, _instances(self.loaded))
            scopes = {i.name: owners.scope_of(i.name) for i in owners.instances}
        except (InstanceError, KeyError, ValueError, OSError):
            scopes = {}
        return ScopeRule(manual=self.settings.guard_manual, only=self.only, scopes=scopes)


def _instances(loaded: Any) -> list[EngineInstance]:
    config = loaded.config_file or Path.cwd() / "dashboard_config.json"
    try:
        return load_instances(instances_file(config))
    except CorruptFileError as exc:
        raise SetupError(str(exc)) from None
