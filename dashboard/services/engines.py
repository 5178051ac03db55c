"""Engine instances under the dashboard: the list in engines.json, one supervised child per instance.

The default scanner instance `scanner` is the child `bot` (the name every page, command and test has
known since the first version); every other instance is the child of its own name, run as
`python -m <kind.module> --instance <name>` with MRASTER_INSTANCE, MRASTER_ACCOUNT and MRASTER_ACCOUNTS
(`role=ACCOUNT,...`) in its environment, its output in `<log dir>/<name>.out`, its pid in
`<run dir>/<name>.pid` (so a restarted dashboard adopts it), its log lines in `<log dir>/<name>.jsonl`.

Edits are validated by the kernel's rules (mraster/engines) and written atomically; an unreadable
engines.json is moved aside by the loader and reported here, and the default scanner is used meanwhile.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from mraster.accounts import DEFAULT_ACCOUNT, AccountError, account_env, declared_names
from mraster.domain.ownership import DEFAULT_SCANNER
from mraster.engines import (
    ENV_ACCOUNT, ENV_INSTANCE, EngineInstance, InstanceError, all_kinds, default_instances, env_name,
    exclusive_conflicts, instance_paths, instance_settings, instances_file, load_instances, parse_instance,
    save_instances, setting_specs,
)
from mraster.engines.registry import EngineKind
from mraster.logs import get_logger
from mraster.storage.atomic import CorruptFileError

from dashboard.paths import DashboardPaths
from dashboard.services.supervisor import ChildSpec, Supervisor, SupervisorError

log = get_logger("dashboard.engines")

DEFAULT_CHILD = "bot"
STATUS_MAX_BYTES = 512 * 1024


def child_name(instance: str) -> str:
    return DEFAULT_CHILD if instance == DEFAULT_SCANNER else instance


def guard_child(account: str) -> str:
    return "guard" if account == DEFAULT_ACCOUNT else f"guard-{account}"


class EngineService:
    def __init__(self, paths: DashboardPaths, supervisor: Supervisor, base_env: Mapping[str, str],
                 commands: Mapping[str, Sequence[str]] | None = None, python: str = sys.executable,
                 environ: Callable[[], Mapping[str, str]] | None = None):
        self.paths = paths
        self.supervisor = supervisor
        self.base_env = dict(base_env)
        self.commands = dict(commands or {})
        self.python = python
        self._environ = environ or (lambda: self.base_env)
        self.file = instances_file(paths.config_file)
        self.problem = ""
        self.state_readers: dict[str, Any] = {}     # the routers' cached state views of scanner instances
        self.kinds: dict[str, EngineKind] = all_kinds()
        self.instances: list[EngineInstance] = self._load()
        for inst in self.instances:
            self._supervise(inst)

    # ------------------------------------------------------------------ reading
    def _load(self) -> list[EngineInstance]:
        try:
            return load_instances(self.file)
        except CorruptFileError as exc:
            self.problem = (f"{self.file.name} could not be read ({exc.reason}) and was kept aside as "
                            f"{exc.quarantined.name}; only the default scanner is listed. Fix that file and rename "
                            f"it back to {self.file.name} before you restart the dashboard, or add instances here "
                            "to start a new list")
            log.error("engines.file_corrupt", self.problem, activity=True)
            return default_instances()

    def get(self, name: str) -> EngineInstance:
        for inst in self.instances:
            if inst.name == name:
                return inst
        raise KeyError(f"no engine instance {name!r}; instances: {', '.join(i.name for i in self.instances)}")

    def accounts_declared(self) -> list[str]:
        try:
            return declared_names(account_env(self.paths.dotenv_file, self._environ()))
        except AccountError:
            return ["main"]

    def spec_for(self, inst: EngineInstance) -> ChildSpec:
        child = child_name(inst.name)
        kind = self.kinds[inst.kind]
        argv = tuple(self.commands.get(child) or (self.python, "-m", kind.module, "--instance", inst.name))
        env = dict(self.base_env)
        env.update({ENV_INSTANCE: inst.name, "MRASTER_ACCOUNTS": ",".join(f"{r}={acc}" for r, acc in inst.accounts)})
        if inst.accounts:
            env[ENV_ACCOUNT] = inst.account
        else:                                   # a kind that trades nothing (the recorder): no account at all
            env.pop(ENV_ACCOUNT, None)
        return ChildSpec(name=child, argv=argv, cwd=self.paths.base_dir, env=env,
                         out_file=self.paths.log_dir / f"{child}.out", pid_file=self.paths.run_dir / f"{child}.pid")

    def _supervise(self, inst: EngineInstance) -> None:
        for account in self.guarded_accounts(inst):
            self._supervise_guard(account)
        if inst.name == DEFAULT_SCANNER:
            return                              # the child `bot`, set up with the classic children
        self.supervisor.add(self.spec_for(inst))

    def guarded_accounts(self, inst: EngineInstance) -> list[str]:
        """Accounts whose guard must run while this instance trades (its guard scope is `protect`)."""
        kind = self.kinds[inst.kind]
        return [acc for _, acc in inst.accounts] if inst.guard_scope(kind) == "protect" else []

    def _supervise_guard(self, account: str) -> None:
        """One guard per named account (`guard-<ACCOUNT>`, `python -m guard --account <ACCOUNT>`); main's
        guard is the classic child `guard`."""
        child = guard_child(account)
        if account == DEFAULT_ACCOUNT or self.supervisor.has(child):
            return
        argv = tuple(self.commands.get(child) or (self.python, "-m", "guard", "--account", account))
        env = {**self.base_env, ENV_ACCOUNT: account}
        self.supervisor.add(ChildSpec(name=child, argv=argv, cwd=self.paths.base_dir, env=env,
                                      out_file=self.paths.log_dir / f"{child}.out",
                                      pid_file=self.paths.run_dir / f"{child}.pid"))

    def status_of(self, inst: EngineInstance) -> tuple[Any, float | None, str]:
        """The engine's own status file: (content, mtime, problem)."""
        kind = self.kinds[inst.kind]
        path = self.paths.run_dir / kind.status_file.format(instance=inst.name)
        try:
            st = path.stat()
        except OSError:
            return None, None, ""
        if st.st_size > STATUS_MAX_BYTES:
            return None, st.st_mtime, f"{path.name} is {st.st_size} bytes, more than the page shows"
        try:
            return json.loads(path.read_text(encoding="utf-8")), st.st_mtime, ""
        except (OSError, ValueError) as exc:
            return None, st.st_mtime, f"{path.name} unreadable: {type(exc).__name__}"

    def state_file_of(self, inst: EngineInstance, settings: Any) -> Path | None:
        """The state file of a scanner-like (flat-settings) instance, where the dashboard finds it."""
        if not self.kinds[inst.kind].flat_settings:
            return None
        raw = Path(instance_paths(settings, inst.name).get("state_file", settings.state_file)).expanduser()
        return raw if raw.is_absolute() else self.paths.base_dir / raw

    def values_of(self, inst: EngineInstance) -> dict[str, Any]:
        """The typed values of a kind's own settings (defaults < engines.json < environment), as the
        instance's process resolves them; {} when the environment holds a bad value (its start says why)."""
        kind = self.kinds[inst.kind]
        try:
            return instance_settings(kind, inst, self._environ())
        except ValueError:
            return {}

    def settings_of(self, inst: EngineInstance) -> list[dict[str, Any]]:
        """Each setting an instance may set: its spec, value and where the value comes from."""
        kind = self.kinds[inst.kind]
        env, own = self._environ(), dict(inst.settings)
        out = []
        for name, spec in setting_specs(kind).items():
            var = env_name(inst.name, name)
            if var in env:
                value, source = env[var], f"environment {var}"
            elif name in own:
                value, source = own[name], self.file.name
            else:
                value, source = (None, "flat settings") if kind.flat_settings else (spec.default, "default")
            if spec.secret:
                value = "<hidden>" if value else ""
            out.append({**spec.to_json(), "value": spec.to_raw(value) if value is not None else None,
                        "source": source, "env": var})
        return out

    def view(self, inst: EngineInstance, with_settings: bool = False) -> dict[str, Any]:
        kind = self.kinds[inst.kind]
        child = child_name(inst.name)
        status, mtime, problem = self.status_of(inst)
        out: dict[str, Any] = {
            "name": inst.name, "kind": inst.kind, "title": kind.title, "child": child,
            "accounts": dict(inst.accounts), "account": inst.account, "guard": inst.guard_scope(kind),
            "enabled": inst.enabled, "page": f"#/{kind.page}/{inst.name}",
            "process": self.supervisor.status(child) if self.supervisor.has(child) else None,
            "status": status, "status_mtime": mtime, "status_problem": problem,
            "overrides": {k: v for k, v in inst.settings},
        }
        if with_settings:
            out["settings"] = self.settings_of(inst)
        return out

    def listing(self) -> dict[str, Any]:
        return {"instances": [self.view(i) for i in self.instances], "problem": self.problem,
                "file": str(self.file), "accounts": self.accounts_declared(),
                "kinds": [{"name": k.name, "title": k.title, "description": k.description,
                           "account_roles": list(k.account_roles), "guard_default": k.guard_default,
                           "flat_settings": k.flat_settings, "trades": k.trades, "exclusive": list(k.exclusive),
                           "page": k.page, "settings": [f.to_json() for f in k.settings]}
                          for k in self.kinds.values()]}

    # ------------------------------------------------------------------ editing
    def _check_accounts(self, inst: EngineInstance) -> None:
        declared = self.accounts_declared()
        missing = [acc for _, acc in inst.accounts if acc not in declared]
        if missing:
            raise InstanceError(f"instance {inst.name}: account(s) {', '.join(missing)} not declared; set "
                                f"ASTER_<NAME>_KEY and ASTER_<NAME>_SECRET in .env (live) or ASTER_ACCOUNTS="
                                f"{','.join(missing)} (paper). Declared: {', '.join(declared)}")

    def _check_exclusive(self, inst: EngineInstance, instances: list[EngineInstance]) -> None:
        """Two enabled instances of a kind may not share a value of its exclusive settings (two recorders
        never record one symbol)."""
        clash = exclusive_conflicts(inst, instances, self.kinds, self._environ())
        if clash:
            raise InstanceError(f"instance {inst.name}: " + "; ".join(clash) + "; choose other values, or disable "
                                "or change that instance first")

    def _save(self, instances: list[EngineInstance]) -> None:
        if self.file.exists() and self.problem:
            raise InstanceError(f"{self.file.name} appeared after it was kept aside as unreadable; restart the "
                                "dashboard to read it before editing instances here")
        save_instances(self.file, instances)
        self.instances, self.problem = instances, ""

    def create(self, payload: Any) -> dict[str, Any]:
        inst = parse_instance(payload, self.kinds)
        if any(i.name == inst.name for i in self.instances):
            raise InstanceError(f"an instance named {inst.name!r} exists already")
        self._check_accounts(inst)
        self._check_exclusive(inst, self.instances)
        self._save([*self.instances, inst])
        self._supervise(inst)
        log.info("engines.created", f"engine instance {inst.name} ({inst.kind}) on {inst.account or 'no account'} added",
                 instance=inst.name, activity=True)
        return self.view(inst, with_settings=True)

    def update(self, name: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Change accounts, settings, guard or enabled of an instance (not its name or kind).
        A running instance keeps its old values until it is restarted (the answer says so)."""
        old = self.get(name)
        merged = {**old.to_json(), **{k: v for k, v in payload.items() if k in ("accounts", "settings", "guard",
                                                                                     "enabled")}}
        if set(payload) - {"accounts", "settings", "guard", "enabled"}:
            raise InstanceError("only accounts, settings, guard and enabled can change; "
                                f"not {', '.join(sorted(set(payload) - {'accounts', 'settings', 'guard', 'enabled'}))}")
        new = parse_instance(merged, self.kinds)
        self._check_accounts(new)
        self._check_exclusive(new, self.instances)
        self._save([new if i.name == name else i for i in self.instances])
        child = child_name(name)
        if new.accounts != old.accounts and self.supervisor.has(child) and name != DEFAULT_SCANNER:
            self.supervisor.replace_spec(self.spec_for(new))
        out = self.view(new, with_settings=True)
        running = self.supervisor.has(child) and self.supervisor.is_running(child)
        out["restart_needed"] = running and new != old
        return out

    async def delete(self, name: str) -> None:
        inst = self.get(name)
        if inst.name == DEFAULT_SCANNER:
            raise InstanceError("the default scanner cannot be removed; set enabled to false instead")
        child = child_name(name)
        if self.supervisor.has(child):
            await self.supervisor.remove(child)       # refused while it runs
        self._save([i for i in self.instances if i.name != name])
        log.info("engines.removed", f"engine instance {name} removed", instance=name, activity=True)

    # ------------------------------------------------------------------ processes
    async def act(self, name: str, action: str) -> dict[str, Any]:
        inst = self.get(name)
        child = child_name(name)
        if action in ("start", "restart") and not inst.enabled:
            raise InstanceError(f"{name} is disabled; enable it first")
        also: list[str] = []
        if action in ("start", "restart"):          # its positions are protected before it can open one
            for account in self.guarded_accounts(inst):
                guard = guard_child(account)
                if self.supervisor.has(guard) and not self.supervisor.is_running(guard):
                    await self.supervisor.start(guard)
                    also.append(guard)
        result: dict[str, Any] = await getattr(self.supervisor, action)(child)
        return {**result, "also_started": also}

    def log_sources(self) -> list[str]:
        guards = {guard_child(acc) for i in self.instances for acc in self.guarded_accounts(i)}
        return [child_name(i.name) for i in self.instances] + sorted(guards - {"guard"})


__all__ = ["EngineService", "InstanceError", "SupervisorError", "child_name", "guard_child"]
