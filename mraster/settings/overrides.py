"""Command-line flags -> setting overrides, the highest-precedence source of every process.

Kept in the kernel so each process reads its own flags the same way without importing the
`mraster` command dispatcher (which sits above the applications).
"""
from __future__ import annotations

import argparse

from mraster.settings.loader import parse_assignments


def cli_overrides(args: argparse.Namespace) -> dict[str, str]:
    """Explicit flags -> setting overrides (the highest-precedence source)."""
    out = parse_assignments(getattr(args, "assign", []) or [])
    if getattr(args, "config", None):
        out["ASTER_CONFIG_FILE"] = args.config
    if getattr(args, "env_file", None):
        out["ASTER_DOTENV_FILE"] = args.env_file
    mapping = {
        ("dashboard", "host"): "ASTER_DASHBOARD_HOST", ("dashboard", "port"): "ASTER_DASHBOARD_PORT",
        ("guard", "interval"): "ASTER_GUARD_INTERVAL",
        ("paper-exchange", "feed"): "ASTER_PAPER_FEED", ("paper-exchange", "speed"): "ASTER_PAPER_SPEED",
        ("paper-exchange", "seed"): "ASTER_PAPER_SEED", ("paper-exchange", "db"): "ASTER_PAPER_DB",
    }
    for (command, attr), env in mapping.items():
        value = getattr(args, attr, None)
        if args.command == command and value is not None:
            out[env] = str(value)
    if getattr(args, "once", False) and args.command == "bot":
        out["ASTER_RUN_ONCE"] = "true"
    if getattr(args, "paper", False):
        out["ASTER_PAPER"] = "true"
    if getattr(args, "admin", False) and args.command == "paper-exchange":
        out["ASTER_PAPER_ADMIN"] = "true"
    return out
