"""`mraster`: one command-line entry point for every process.

Each subcommand builds the same Settings (defaults < dashboard_config.json <
.env < environment < flags) and hands them to its process. Heavy modules are
imported only by the subcommand that needs them.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Sequence

from mraster.settings import SettingsError, load_settings
from mraster.settings.overrides import cli_overrides
from paper.profiles import PROFILE_NAMES as PAPER_PROFILES
from commands import config_cmd, killswitch_cmd, maker_cmd, ops_cmd

EXIT_CONFIG = 2

# subcommand -> (module:function, help). The function takes (LoadedSettings, argparse.Namespace) -> int.
PROCESSES: dict[str, tuple[str, str]] = {
    "dashboard": ("dashboard.main:run", "web control center: supervises bot and guard, edits settings, live logs"),
    "bot": ("bot.runtime.main:run", "the scanner: universe, RSI/ATR signals, policy, entries with brackets"),
    "guard": ("guard.main:run", "keeps a stop and a take-profit on every open position"),
    "paper-exchange": ("paper.main:run", "local venue speaking the real API, for paper trading"),
}


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("settings")
    g.add_argument("--set", dest="assign", action="append", default=[], metavar="NAME=VALUE",
                   help="set any ASTER_* setting for this run (highest precedence; repeatable)")
    g.add_argument("--config", metavar="FILE", help="configuration file (default: dashboard_config.json)")
    g.add_argument("--env-file", metavar="FILE", help="dotenv file with secrets (default: .env)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mraster",
        description="mraster: automated trading of perpetual futures on Aster DEX and Binance-compatible venues.",
        epilog="Settings precedence, lowest first: defaults, dashboard_config.json, .env, environment, flags. "
               "Run 'mraster config show' to see every value and where it came from.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("dashboard", help=PROCESSES["dashboard"][1], description=PROCESSES["dashboard"][1])
    p.add_argument("--host", help="bind address (ASTER_DASHBOARD_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (ASTER_DASHBOARD_PORT, default 8000)")
    p.add_argument("--no-paper-exchange", action="store_true",
                   help="in paper mode, do not start a paper exchange when none answers")
    _common(p)

    p = sub.add_parser("bot", help=PROCESSES["bot"][1], description=PROCESSES["bot"][1])
    p.add_argument("--once", action="store_true", help="run one scan cycle and exit (ASTER_RUN_ONCE=true)")
    p.add_argument("--paper", action="store_true", help="trade on the paper exchange (ASTER_PAPER=true)")
    p.add_argument("--instance", metavar="NAME",
                   help="the scanner instance to run, from engines.json (default: MRASTER_INSTANCE, else 'scanner')")
    _common(p)

    p = sub.add_parser("guard", help=PROCESSES["guard"][1], description=PROCESSES["guard"][1])
    p.add_argument("--paper", action="store_true", help="guard the paper exchange account (ASTER_PAPER=true)")
    p.add_argument("--interval", type=float, help="fallback check period in seconds (ASTER_GUARD_INTERVAL)")
    p.add_argument("--once", action="store_true", help="reconcile and repair once, then exit")
    p.add_argument("--flatten", action="store_true",
                   help="cancel every order and close every position at market, then exit")
    p.add_argument("--no-stream", action="store_true",
                   help="do not use the user-data stream; rely on the fallback timer alone")
    p.add_argument("--account", metavar="NAME",
                   help="the named account to guard (default: MRASTER_ACCOUNT, else the main account)")
    p.add_argument("--instances", metavar="A,B",
                   help="protect only positions these engine instances opened (default: every instance whose "
                        "guard scope is 'protect'); positions opened by hand follow ASTER_GUARD_MANUAL")
    _common(p)

    p = sub.add_parser("paper-exchange", help=PROCESSES["paper-exchange"][1],
                       description=PROCESSES["paper-exchange"][1])
    p.add_argument("--host", default=None, help="bind address (default: host of ASTER_PAPER_URL)")
    p.add_argument("--port", type=int, default=None, help="port (default: port of ASTER_PAPER_URL)")
    p.add_argument("--feed", help="auto, synthetic, live or replay:PATH (ASTER_PAPER_FEED)")
    p.add_argument("--speed", type=float, help="market time per wall second (ASTER_PAPER_SPEED)")
    p.add_argument("--seed", type=int, help="seed of the synthetic market (ASTER_PAPER_SEED)")
    p.add_argument("--db", help="SQLite file of accounts and orders (ASTER_PAPER_DB)")
    p.add_argument("--admin", action="store_true", help="serve the admin endpoints (ASTER_PAPER_ADMIN)")
    p.add_argument("--reset", action="store_true", help="start with fresh accounts, orders and trades")
    p.add_argument("--faults", metavar="SPEC", help="fault injection at start, e.g. 'latency_ms=50,error_rate=0.1'")
    p.add_argument("--profile", choices=PAPER_PROFILES,
                   help="venue the exchange behaves like (default: the account's ASTER_VENUE_PROFILE)")
    _common(p)

    config_cmd.add_parser(sub, _common)
    killswitch_cmd.add_parser(sub, _common)
    ops_cmd.add_parser(sub, _common)
    maker_cmd.add_parser(sub, _common)
    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub: argparse._SubParsersAction) -> None:
    """Subcommands contributed by other packages (policy, trial, backtest, recorder, legacy import),
    registered if present."""
    for module_name in ("ml_policy.cli", "trial.cli", "backtest.cli", "recorder.cli", "commands.legacy_cmd",
                        "commands.momentum_cmd", "commands.deltaneutral_cmd", "commands.db_cmd"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        module.add_parser(sub, _common)


def _resolve(target: str) -> Callable:
    module_name, func = target.split(":")
    return getattr(importlib.import_module(module_name), func)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        overrides = cli_overrides(args)
        if getattr(args, "handler", None) is not None and getattr(args, "no_settings", False):
            return args.handler(None, args)
        ops_cmd.apply_secrets_at_start(getattr(args, "env_file", None))   # ASTER_SECRETS_COMMAND, if set
        loaded = load_settings(cli=overrides)
    except SettingsError as exc:
        print(f"mraster {args.command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    for warning in loaded.warnings:
        print(f"mraster: warning: {warning}", file=sys.stderr)
    handler = getattr(args, "handler", None) or _resolve(PROCESSES[args.command][0])
    try:
        return int(handler(loaded, args) or 0)
    except SettingsError as exc:
        print(f"mraster {args.command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def run_as(command: str) -> None:
    """`python -m <package>`: the same as `mraster <command>`."""
    raise SystemExit(main([command, *sys.argv[1:]]))


if __name__ == "__main__":
    raise SystemExit(main())
