"""`mraster config show|check|schema`."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
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


def show(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    rows = _rows(loaded, args.group)
    if args.json:
        print(json.dumps({"config_file": str(loaded.config_file), "dotenv_file": str(loaded.dotenv_file),
                          "settings": rows, "warnings": list(loaded.warnings)}, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows) if rows else 10
    print(f"# config file: {loaded.config_file}   .env: {loaded.dotenv_file}")
    current = None
    for r in rows:
        if r["group"] != current:
            current = r["group"]
            print(f"\n[{current}]")
        value = r["value"]
        text = value if isinstance(value, str) else json.dumps(value)
        unit = f" {r['unit']}" if r["unit"] and text not in ("", "true", "false") else ""
        print(f"  {r['name']:<{width}} = {text}{unit}   ({r['source']})")
    return 0


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
