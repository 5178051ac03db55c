"""Entry point of `mraster deltaneutral` (and `python -m deltaneutral --instance NAME`).

Resolves the instance (its account, the seed's settings with MRASTER_<INSTANCE>__<NAME> overrides), builds
one client per leg account, and runs the operator until SIGTERM/SIGINT."""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from mraster.accounts import AccountError, account_env, load_accounts, settings_for_account
from mraster.engines import InstanceError, instances_file, load_instances, resolve_instance
from mraster.engines.owners import AccountOwners
from mraster.engines.kinds.deltaneutral import warnings as seed_warnings
from mraster.exchange.factory import make_exchange
from mraster.logs import get_logger, settings_secrets, setup_logging
from mraster.paper_launch import PaperStartError, ensure_paper_exchange
from mraster.safety.gate import RiskGate
from mraster.safety.killswitch import entries_blocked
from mraster.tradedb import TradeDB

from deltaneutral.plan import Config
from deltaneutral.runtime import Files, Operator
from deltaneutral.venue import LegVenue

log = get_logger("deltaneutral")


def build(loaded: Any, instance: str | None, environ: Mapping[str, str] | None = None) -> tuple[Operator, list[Any]]:
    """The operator of `instance` and the clients to close at the end."""
    resolved = resolve_instance(instance, loaded=loaded, environ=environ)
    if resolved.kind.name != "deltaneutral":
        raise SystemExit(f"instance {resolved.instance.name} is a {resolved.kind.name}, not a deltaneutral operator")
    cfg = Config.from_values(resolved.values)
    first = resolved.settings
    long_ex = make_exchange(first)
    legs_settings = [first]
    if cfg.short_account:
        accounts = load_accounts(account_env(loaded.dotenv_file, environ))
        if cfg.short_account not in accounts:
            raise SystemExit(f"SHORT_ACCOUNT={cfg.short_account}: no such account; declare it with "
                             f"ASTER_{cfg.short_account}_KEY/_SECRET in .env or ASTER_ACCOUNTS in paper mode")
        if cfg.short_account == resolved.instance.account:
            raise SystemExit("SHORT_ACCOUNT must name another account than the instance's")
        second = settings_for_account(replace(loaded.settings), accounts[cfg.short_account])
        short_ex = make_exchange(second)
        legs_settings.append(second)
        long_v = LegVenue("LONG", resolved.instance.account, long_ex, hedge=False)
        short_v = LegVenue("SHORT", cfg.short_account, short_ex, hedge=False)
        clients = [long_ex, short_ex]
    else:
        long_v = LegVenue("LONG", resolved.instance.account, long_ex, hedge=True)
        short_v = LegVenue("SHORT", resolved.instance.account, long_ex, hedge=True)
        clients = [long_ex]

    def entry_block() -> str:
        return "; ".join(r for r in (entries_blocked(s) for s in legs_settings) if r)

    run_dir = Path(first.run_dir)
    name = resolved.instance.name
    config = loaded.config_file or Path.cwd() / "dashboard_config.json"
    instances = load_instances(instances_file(config))
    gates = {v.account: RiskGate(s, v.exchange, owner_of=AccountOwners(Path(s.run_dir), v.account,
                                                                      instances).owner_of_position)
             for v, s in ((long_v, first), (short_v, legs_settings[-1]))}
    files = Files(resolved.status_path, resolved.state_path, run_dir / f"{name}.control.json")
    op = Operator(name, cfg, long_v, short_v, TradeDB(first.journal_file), files, entry_block, gates,
                  warnings=seed_warnings(resolved.values))
    return op, clients


def run(loaded: Any, args: argparse.Namespace | None) -> int:
    s = loaded.settings
    instance = getattr(args, "instance", None)
    setup_logging(f"deltaneutral.{instance}" if instance else "deltaneutral", s.loglevel, s.log_dir,
                  secrets=settings_secrets(s))
    try:                                   # first: a wrong instance or account starts nothing
        op, clients = build(loaded, instance)
    except (InstanceError, AccountError, SystemExit) as exc:
        print(f"mraster deltaneutral: {exc}", file=sys.stderr)
        log.error("dn.config", str(exc), activity=True)
        return 2
    if s.paper:
        try:
            ensure_paper_exchange(s, {})
        except PaperStartError as exc:
            log.error("paper.unavailable", str(exc), activity=True)
            return 1
    for w in op.warnings:
        log.warning("settings.warning", w, instance=op.instance, activity=True)
    return asyncio.run(_main(op, clients))


async def _main(op: Operator, clients: list[Any]) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def request_stop() -> None:
        op.stopping = True
        stop.set()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_stop)

    async def sleep(seconds: float) -> None:
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass
    op.sleep = sleep
    try:
        await op.run()
    except RuntimeError as exc:
        log.error("dn.start_failed", str(exc), instance=op.instance, activity=True)
        return 2
    finally:
        for c in clients:
            await c.close()
        op.db.close()
    log.info("dn.stopped", "operator stopped; positions stay as they are", instance=op.instance)
    return 0
