"""Entry point of `mraster bot` (and `python -m bot`)."""
from __future__ import annotations

import argparse
import asyncio
from typing import Any

from mraster.logs import get_logger, settings_secrets, setup_logging
from bot.runtime.loop import Bot
from mraster.paper_launch import PaperStartError, ensure_paper_exchange

log = get_logger("bot")


def run(loaded: Any, args: argparse.Namespace | None) -> int:
    s = loaded.settings
    setup_logging("bot", s.loglevel, s.log_dir, secrets=settings_secrets(s))
    for warning in loaded.warnings:
        log.warning("settings.warning", warning)
    cli: dict[str, str] = {}
    if args is not None and getattr(args, "command", None):
        from mraster.settings.overrides import cli_overrides
        cli = cli_overrides(args)
    if s.paper:
        try:
            ensure_paper_exchange(s, cli)
        except PaperStartError as exc:
            log.error("paper.unavailable", str(exc), activity=True)
            return 1
    elif not (s.api_key and s.api_secret):
        log.error("settings.keys", "live trading needs ASTER_API_KEY and ASTER_API_SECRET (in .env or the "
                  "environment); or set ASTER_PAPER=true to trade on the paper exchange", activity=True)
        return 2
    return asyncio.run(Bot(loaded, cli).run())
