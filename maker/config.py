"""What a maker process runs with: its instance, the three accounts' Settings, the seed's parameters.

An instance named in engines.json (kind `maker`) is resolved by the kernel (`resolve_instance`). The
seed's way of starting (`start_executor.sh --account B --port 8081` with no engines.json entry) gets the
implicit instance `maker` on accounts A, B and C, resolved the same way. The seed's bare `SERVER_B_URL` /
`SERVER_C_URL` variables apply when the instance does not set them. The shared secret of the signed
instructions is `MAKER_HMAC_SECRET`, read only from .env or the environment, never logged.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from mraster.accounts import account_env, load_accounts, settings_for_account
from mraster.engines import (
    EngineInstance, InstanceError, Resolved, get_kind, instance_settings, instances_file, load_instances,
)
from mraster.engines.process import find_instance
from mraster.settings.loader import LoadedSettings

from maker.logic import Params

DEFAULT_INSTANCE = "maker"
DEFAULT_ACCOUNTS = (("coordinator", "A"), ("executor_b", "B"), ("executor_c", "C"))
ROLE_OF_SERVER = {"B": "executor_b", "C": "executor_c"}
SECRET_ENV = "MAKER_HMAC_SECRET"


@dataclass(frozen=True)
class MakerConfig:
    resolved: Resolved
    secret: str
    values: dict[str, Any]

    @property
    def instance(self) -> str:
        return self.resolved.instance.name

    @property
    def symbol(self) -> str:
        return str(self.values["symbol"]).upper()

    def settings_of(self, server: str) -> Any:
        """Settings of executor `server` (B or C), or of the coordinator ("A")."""
        role = "coordinator" if server == "A" else ROLE_OF_SERVER[server]
        return self.resolved.by_role[role]

    def account_of(self, server: str) -> str:
        return self.resolved.instance.account_for(ROLE_OF_SERVER[server])

    def server_of_account(self, account: str) -> str:
        for server in ("B", "C"):
            if self.account_of(server) == account or server == account:
                return server
        raise InstanceError(f"account {account} is not an executor account of instance {self.instance} "
                            f"(B: {self.account_of('B')}, C: {self.account_of('C')})")

    def url_of(self, server: str) -> str:
        return str(self.values[f"SERVER_{server}_URL"]).rstrip("/")

    def max_usd(self, server: str) -> Decimal:
        return Decimal(str(self.values[f"MAX_POSITION_{server}_USD"]))

    @property
    def run_dir(self) -> Path:
        return Path(self.resolved.settings.run_dir)

    def journal_path(self, server: str) -> Path:
        return self.run_dir / f"{self.instance}.{server}.journal.jsonl"

    def executor_status_path(self, server: str) -> Path:
        return self.run_dir / f"{self.instance}.{server}.status.json"

    def params(self) -> Params:
        v = self.values
        return Params(step=Decimal(str(v["maker_step_btc"])), offset=Decimal(str(v["maker_price_offset"])),
                      expire_s=float(v["maker_expire_seconds"]), delay_max_s=float(v["signal_delay_max"]),
                      ratio=Decimal(str(v["net_exposure_ratio"])), strategy=v["strategy"],
                      targets=(("B", Decimal(str(v["target_position_b_btc"]))),
                               ("C", Decimal(str(v["target_position_c_btc"])))),
                      tolerance=Decimal(str(v["target_tolerance_btc"])))


def _instance(loaded: LoadedSettings, name: str, cwd: Path | None) -> EngineInstance:
    config = loaded.config_file or Path(cwd or Path.cwd()) / "dashboard_config.json"
    instances = load_instances(instances_file(config))
    try:
        return find_instance(instances, name)
    except InstanceError:
        if name != DEFAULT_INSTANCE:
            raise
        return EngineInstance(DEFAULT_INSTANCE, "maker", DEFAULT_ACCOUNTS)


def load_config(loaded: LoadedSettings, name: str | None = None, *, environ: Mapping[str, str] | None = None,
                cwd: Path | None = None) -> MakerConfig:
    """The maker instance `name` (MRASTER_INSTANCE, else `maker`); InstanceError naming what to fix."""
    env = dict(os.environ if environ is None else environ)
    instance = _instance(loaded, name or env.get("MRASTER_INSTANCE") or DEFAULT_INSTANCE, cwd)
    kind = get_kind(instance.kind)
    if kind.name != "maker":
        raise InstanceError(f"instance {instance.name} is a {kind.name}, not a maker")
    merged = account_env(loaded.dotenv_file, env)
    accounts = load_accounts(merged)
    by_role: dict[str, Any] = {}
    for role, account in instance.accounts:
        if account not in accounts:
            raise InstanceError(
                f"instance {instance.name}: account {account} is not declared; set ASTER_{account}_KEY and "
                f"ASTER_{account}_SECRET in .env, or ASTER_ACCOUNTS=A,B,C in paper mode")
        by_role[role] = settings_for_account(loaded.settings, accounts[account])
    values = instance_settings(kind, instance, env)
    explicit = dict(instance.settings)
    for server in ("B", "C"):
        key = f"SERVER_{server}_URL"
        bare = merged.get(key)
        if bare and key not in explicit and f"MRASTER_{instance.name.upper()}__{key}" not in env:
            values[key] = kind.field(key).parse(bare, f"environment {key}")
    resolved = Resolved(instance, kind, by_role["coordinator"], by_role, values)
    return MakerConfig(resolved, merged.get(SECRET_ENV, ""), values)
