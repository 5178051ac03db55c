"""Entry point of `mraster bot` (and `python -m bot`)."""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from mraster.logs import get_logger, settings_secrets, setup_logging
from bot.runtime.loop import Bot
from mraster.paper_launch import PaperStartError, ensure_paper_exchange

log = get_logger("bot")


def run(loaded: Any, args: argparse.Namespace | None) -> int:
    from mraster.engines import ENV_INSTANCE, InstanceError, resolve_instance
    from mraster.accounts import AccountError
    from mraster.domain.ownership import DEFAULT_SCANNER
    name = getattr(args, "instance", None) or os.environ.get(ENV_INSTANCE) or DEFAULT_SCANNER
    try:
        resolved = resolve_instance(name, loaded=loaded)
    except (InstanceError, AccountError, KeyError, ValueError) as exc:
        print(f"mraster bot: {exc}", file=sys.stderr)
        return 2
    if resolved.kind.name != "scanner":
        print(f"mraster bot: instance {name} is a {resolved.kind.name}, not a scanner", file=sys.stderr)
        return 2
    s = resolved.settings
    setup_logging(log_source(name), s.loglevel, s.log_dir, secrets=settings_secrets(s))
    for warning in loaded.warnings:
        log.warning("settings.warning", warning)
    cli: dict[str, str] = {}
    if args is not None and getattr(args, "command", None):
        from mraster.settings.overrides import cli_overrides
        cli = cli_overrides(args)
    if s.paper:
        try:
            ensure_paper_exchange(loaded.settings, cli)
        except PaperStartError as exc:
            log.error("paper.unavailable", str(exc), activity=True)
            return 1
    else:
        code = live_preflight(s)
        if code:
            return code
    return asyncio.run(Bot(loaded, cli, instance=name, account=resolved.instance.account).run())


def log_source(instance: str) -> str:
    """`bot` (logs/bot.jsonl) for the default scanner; another instance logs under its own name
    (logs/<instance>.jsonl), as every engine instance does: the dashboard follows that file as the
    instance's log source."""
    from mraster.domain.ownership import DEFAULT_SCANNER
    return "bot" if instance == DEFAULT_SCANNER else instance


def live_preflight(settings: Any) -> int:
    """Live: the venue judges the credentials with one harmless signed read before anything trades.
    0 to go on; 2 when refused (the settings are wrong: the dashboard does not restart it); 1 when the
    venue did not answer usably (a restart later may succeed)."""
    from mraster.exchange.credcheck import REFUSED, preflight, profile_summary
    check = asyncio.run(preflight(settings))
    if check.ok:
        log.info("credentials.ok", f"{profile_summary(settings)}; {'; '.join(check.lines)}", activity=True)
        return 0
    log.error("credentials.refused" if check.kind == REFUSED else "credentials.unchecked",
              f"the bot does not start: {check.problem}", activity=True, kind=check.kind)
    return 2 if check.kind == REFUSED else 1
