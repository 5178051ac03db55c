"""What an engine instance process runs with, resolved in one call at its start.

    resolved = resolve_instance("scan2")          # or MRASTER_INSTANCE from the dashboard
    resolved.settings                             # Settings of its (first) account, overrides applied
    resolved.by_role["short"]                     # Settings of another role's account
    resolved.values["LEVERAGE"]                   # the kind's own settings (seed names)

The dashboard starts every instance as `python -m <kind.module> --instance <name>` with
MRASTER_INSTANCE and MRASTER_ACCOUNT set; an engine calls this and gets the same answer the
dashboard shows. Errors (unknown instance, undeclared account) name what to fix.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mraster.accounts import DEFAULT_ACCOUNT, account_env, load_accounts, settings_for_account
from mraster.domain.ownership import DEFAULT_SCANNER
from mraster.engines.instances import (
    ENV_INSTANCE, EngineInstance, InstanceError, instance_settings, instances_file, load_instances, resolve_flat,
)
from mraster.engines.registry import EngineKind, get_kind
from mraster.settings.loader import LoadedSettings, load_settings


@dataclass(frozen=True)
class Resolved:
    instance: EngineInstance
    kind: EngineKind
    settings: Any                                          # Settings of the first role's account
    by_role: dict[str, Any] = field(default_factory=dict)  # role -> Settings
    values: dict[str, Any] = field(default_factory=dict)   # the kind's own settings

    @property
    def status_path(self) -> Path:
        return Path(self.settings.run_dir) / self.kind.status_file.format(instance=self.instance.name)

    @property
    def state_path(self) -> Path:
        return Path(self.settings.run_dir) / self.kind.state_file.format(instance=self.instance.name)


def find_instance(instances: list[EngineInstance], name: str) -> EngineInstance:
    for inst in instances:
        if inst.name == name:
            return inst
    raise InstanceError(f"no engine instance {name!r} in engines.json (instances: "
                        f"{', '.join(i.name for i in instances)})")


def resolve_instance(name: str | None = None, *, loaded: LoadedSettings | None = None,
                     environ: Mapping[str, str] | None = None, cwd: Path | str | None = None) -> Resolved:
    env = os.environ if environ is None else environ
    loaded = loaded or load_settings(env=env, cwd=cwd)
    config = loaded.config_file or Path(cwd or Path.cwd()) / "dashboard_config.json"
    instance = find_instance(load_instances(instances_file(config)), name or env.get(ENV_INSTANCE) or DEFAULT_SCANNER)
    kind = get_kind(instance.kind)
    accounts = load_accounts(account_env(loaded.dotenv_file, env))
    by_role: dict[str, Any] = {}
    for role, account in instance.accounts:
        if account not in accounts:
            raise InstanceError(
                f"instance {instance.name}: account {account} is not declared; set ASTER_{account}_KEY and "
                f"ASTER_{account}_SECRET (or ASTER_{account}_V3_SIGNER_KEY) in .env, or ASTER_ACCOUNTS={account} "
                f"in paper mode")
        base = resolve_flat(loaded.settings, kind, instance, env) if kind.flat_settings else loaded.settings
        by_role[role] = settings_for_account(base, accounts[account])
    first = by_role[instance.accounts[0][0]] if by_role else loaded.settings
    return Resolved(instance, kind, first, by_role, instance_settings(kind, instance, env))


__all__ = ["DEFAULT_ACCOUNT", "Resolved", "find_instance", "resolve_instance"]
