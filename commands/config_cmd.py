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
    from mraster.exchange.factory import profile_of, v3_credentials
    from mraster.exchange.profiles import EIP712
    from mraster.exchange.v3sign import CHAIN_IDS
    profile = profile_of(settings)
    url = settings.paper_url if settings.paper else settings.exchange_base
    where = f"{'paper exchange' if settings.paper else 'LIVE'} {url}"
    if profile.auth == EIP712:
        creds = v3_credentials(settings)
        try:
            signer = creds.signer_address or "(not set)"
        except ValueError:
            signer = creds.signer or "(invalid key)"
        who = (f"API wallet {signer} of {creds.user or '(user not set)'}, {settings.v3_network} "
               f"(chain id {CHAIN_IDS[settings.v3_network]})")
    else:
        who = "API key " + ("set" if settings.api_key else "not set")
    return f"venue profile {profile.name}: {profile.title}; {where}; {who}"


def credential_check(settings: Any, offline: bool) -> tuple[list[str], str]:
    """(lines to print, problem or ''). Static checks always; the signed read only with credentials."""
    from mraster.exchange.credcheck import check_credentials, has_credentials, static_problems
    from mraster.exchange.factory import make_exchange, profile_of
    profile = profile_of(settings)
    problems = static_problems(settings, profile)
    if problems:
        return [], "; ".join(problems)
    if offline:
        return ["credentials not checked (--offline)"], ""
    if not settings.paper and not has_credentials(settings, profile):
        return [f"no credentials set for live trading ({profile.docs}); nothing to check"], ""

    async def run() -> Any:
        client = make_exchange(settings, retries=0, timeout_s=min(10.0, settings.http_timeout))
        try:
            return await check_credentials(client)
        finally:
            await client.close()

    result = asyncio.run(run())
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
