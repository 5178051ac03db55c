"""`mraster config show|check|schema`."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, Callable

from mraster.settings import FIELDS, LoadedSettings
from mraster.settings.docs import markdown_table, schema_text


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("config", help="show, check or export the settings",
                       description="Show, check or export the settings (secrets are always masked).")
    csub = p.add_subparsers(dest="action", metavar="ACTION")
    csub.required = True
    s = csub.add_parser("show", help="every setting with its value and the source it came from")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--group", help="only this group (exchange, universe, signals, ...)")
    s.add_argument("--instance", help="the settings of one engine instance (engines.json), with their sources")
    common(s)
    s.set_defaults(handler=show)
    c = csub.add_parser("check", help="validate the configuration and the account's credentials; exit 2 with a "
                        "message per problem",
                        description="Validate every setting, show the account's venue profile, and (when "
                        "credentials are set) make the venue judge them with a harmless signed read.")
    c.add_argument("--offline", action="store_true", help="do not contact the venue (no credential check)")
    common(c)
    c.set_defaults(handler=check)
    e = csub.add_parser("schema", help="export the settings schema (JSON, or the README's markdown table)")
    e.add_argument("--markdown", action="store_true", help="print the README configuration table instead")
    common(e)
    e.set_defaults(handler=schema, no_settings=True)


def _rows(loaded: LoadedSettings, group: str | None) -> list[dict[str, Any]]:
    values = loaded.public_values()
    return [{"name": f.env, "value": values[f.env], "source": loaded.source_of(f.env), "group": f.group,
             "unit": f.unit, "live": f.live}
            for f in FIELDS if group is None or f.group == group]


def _instance_rows(loaded: LoadedSettings, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One instance: who it is and each of its settings with value and source (secrets masked)."""
    import os

    from mraster.engines import env_name, get_kind, instances_file, load_instances, setting_specs
    from mraster.engines.process import find_instance
    config = loaded.config_file or Path.cwd() / "dashboard_config.json"
    inst = find_instance(load_instances(instances_file(config)), name)
    kind = get_kind(inst.kind)
    own = dict(inst.settings)
    rows = []
    for key, spec in setting_specs(kind).items():
        var = env_name(inst.name, key)
        if var in os.environ:
            value, source = spec.parse(os.environ[var], f"environment {var}"), f"environment {var}"
        elif key in own:
            value, source = own[key], "engines.json"
        elif kind.flat_settings:
            continue                                   # the flat table shows these
        else:
            value, source = spec.default, "default"
        rows.append({"name": key, "value": "<hidden>" if spec.secret and value else spec.to_raw(value),
                     "source": source, "group": spec.group, "unit": spec.unit, "live": spec.live})
    head = {"instance": inst.name, "kind": inst.kind, "accounts": dict(inst.accounts),
            "guard": inst.guard_scope(kind), "enabled": inst.enabled}
    return head, rows


def show(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    if getattr(args, "instance", None):
        try:
            head, rows = _instance_rows(loaded, args.instance)
        except (KeyError, ValueError) as exc:
            print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps({**head, "settings": rows}, indent=2))
            return 0
        accounts = ", ".join(f"{role}={acc}" for role, acc in head["accounts"].items()) or "none (trades nothing)"
        print(f"# instance {head['instance']} ({head['kind']}) accounts {accounts}, guard {head['guard']}"
              f"{'' if head['enabled'] else ', disabled'}")
        _print_rows(rows)
        return 0
    rows = _rows(loaded, args.group)
    if args.json:
        print(json.dumps({"config_file": str(loaded.config_file), "dotenv_file": str(loaded.dotenv_file),
                          "settings": rows, "warnings": list(loaded.warnings)}, indent=2))
        return 0
    print(f"# config file: {loaded.config_file}   .env: {loaded.dotenv_file}")
    _print_rows(rows)
    _print_instances(loaded)
    return 0


def _print_instances(loaded: LoadedSettings) -> None:
    from mraster.engines import instances_file, load_instances
    from mraster.storage.atomic import CorruptFileError
    path = instances_file(loaded.config_file or Path.cwd() / "dashboard_config.json")
    if not path.exists():
        return
    try:
        instances = load_instances(path)
    except CorruptFileError as exc:
        print(f"\n[engines] {exc}", file=sys.stderr)
        return
    print(f"\n[engines] {path}  (details: mraster config show --instance NAME)")
    for inst in instances:
        accounts = ", ".join(f"{role}={acc}" for role, acc in inst.accounts) or "no account"
        print(f"  {inst.name:<10} {inst.kind:<12} {accounts}   {len(inst.settings)} setting(s) of its own"
              f"{'' if inst.enabled else ', disabled'}")


def _print_rows(rows: list[dict[str, Any]]) -> None:
    width = max(len(r["name"]) for r in rows) if rows else 10
    current = None
    for r in rows:
        if r["group"] != current:
            current = r["group"]
            print(f"\n[{current}]")
        value = r["value"]
        text = value if isinstance(value, str) else json.dumps(value)
        unit = f" {r['unit']}" if r["unit"] and text not in ("", "true", "false") else ""
        print(f"  {r['name']:<{width}} = {text}{unit}   ({r['source']})")


def profile_summary(settings: Any) -> str:
    """One line: the account's venue profile, where it points and who signs (no secrets)."""
    from mraster.exchange.credcheck import profile_summary as summary
    return summary(settings)


def credential_check(settings: Any, offline: bool) -> tuple[list[str], str]:
    """(lines to print, problem or ''). Static checks always; the signed read only with credentials."""
    from mraster.exchange.credcheck import SKIPPED, preflight, static_problems
    from mraster.exchange.factory import profile_of
    if offline:
        problems = static_problems(settings, profile_of(settings))
        return ([], "; ".join(problems)) if problems else (["credentials not checked (--offline)"], "")
    result = asyncio.run(preflight(settings, require_credentials=False))
    if result.kind == SKIPPED:
        return result.lines, ""
    if not result.ok and settings.paper and "cannot read the venue clock" in result.problem:
        return [f"paper exchange not answering at {settings.paper_url}; credentials not checked"], ""
    return result.lines, result.problem


def check(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    settings = loaded.settings
    changed = sum(1 for f in FIELDS if loaded.source_of(f.env) != "default")
    print(f"configuration OK: {len(FIELDS)} settings, {changed} not at their default "
          f"(config file {loaded.config_file})")
    print(profile_summary(settings))
    lines, problem = credential_check(settings, getattr(args, "offline", False))
    for line in lines:
        print(f"  {line}")
    if loaded.warnings:
        print(f"{len(loaded.warnings)} warning(s), see above", file=sys.stderr)
    if problem:
        print(f"credentials: {problem}", file=sys.stderr)
        return 2
    return 0


def schema(_loaded: Any, args: argparse.Namespace) -> int:
    print(markdown_table() if args.markdown else schema_text())
    return 0
