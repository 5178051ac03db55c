"""`mraster momentum`: the momentum-volatility engine (seed core/main.py), dry or live.

    mraster momentum --symbols ETHUSDT --poll-time 600 --enable-trading false --update-logs true --order-notional 5

The seed's underscore spellings (--poll_time, --enable_trading, --update_logs, --order_notional,
--api_key_path, --api_secret_path) are accepted too. Keys may come from files as in the seed: the
flags --api-key-path/--api-secret-path, or ORDER_API_KEY / ORDER_SECRET_KEY naming the files. This module
glues the engine (package `momentum`) to the recorder for --update-logs; neither imports the other.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

TRUE, FALSE = {"1", "true", "yes", "on", "y", "t"}, {"0", "false", "no", "off", "n", "f"}


def _bool(text: str) -> bool:
    t = str(text).strip().lower()
    if t in TRUE | FALSE:
        return t in TRUE
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _symbols(text: str) -> list[str]:
    out = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not out or any(not s.isalnum() for s in out):
        raise argparse.ArgumentTypeError(f"expected symbols like BTCUSDT,ETHUSDT, got {text!r}")
    return list(dict.fromkeys(out))


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("momentum", help="the momentum-volatility engine (seeds 000/002), dry or live",
                       description="One-second loop on streamed 1m bars: momentum against Rogers-Satchell "
                                   "volatility; taker IOC entries at the touch; TP/SL/trailing exits in bps.")
    p.add_argument("--instance", help="engine instance in engines.json (default: MRASTER_INSTANCE, else a "
                                      "stand-alone instance 'momentum' on the main account)")
    p.add_argument("--symbols", type=_symbols, help="comma-separated symbols (SYMBOLS)")
    p.add_argument("--poll-time", "--poll_time", dest="poll_time", type=float, metavar="S",
                   help="stop cleanly after S seconds (POLL_TIME; 0 = until stopped)")
    p.add_argument("--enable-trading", "--enable_trading", dest="enable_trading", type=_bool, metavar="BOOL",
                   help="true: send orders; false: log signals only (ENABLE_TRADING)")
    p.add_argument("--update-logs", "--update_logs", dest="update_logs", type=_bool, metavar="BOOL",
                   help="record the five market CSV families through the recorder (UPDATE_LOGS)")
    p.add_argument("--order-notional", "--order_notional", dest="order_notional", type=float, metavar="USD",
                   help="entry notional in USD (ORDER_NOTIONAL)")
    p.add_argument("--api-key-path", "--api_key_path", dest="api_key_path", metavar="FILE",
                   help="file holding the API key (or ORDER_API_KEY naming the file)")
    p.add_argument("--api-secret-path", "--api_secret_path", dest="api_secret_path", metavar="FILE",
                   help="file holding the API secret (or ORDER_SECRET_KEY naming the file)")
    p.add_argument("--log-dir", default="logs", help="directory of the recorder's CSV files (default: logs/)")
    p.add_argument("--paper", action="store_true", help="trade on the paper exchange (ASTER_PAPER=true)")
    common(p)
    p.set_defaults(handler=run)


def _read_key_file(path: str, what: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SystemExit(f"mraster momentum: cannot read the {what} file {path}: {exc.strerror}") from None
    if not text:
        raise SystemExit(f"mraster momentum: the {what} file {path} is empty")
    return text


def _with_key_files(settings: Any, args: argparse.Namespace) -> Any:
    key_path = args.api_key_path or os.environ.get("ORDER_API_KEY")
    secret_path = args.api_secret_path or os.environ.get("ORDER_SECRET_KEY")
    if not key_path and not secret_path:
        return settings
    if not (key_path and secret_path):
        raise SystemExit("mraster momentum: give both the API key file and the API secret file")
    return replace(settings, api_key=_read_key_file(key_path, "API key"),
                   api_secret=_read_key_file(secret_path, "API secret"))


def resolve(loaded: Any, args: argparse.Namespace) -> tuple[Any, str, dict[str, Any], Path, Path]:
    """(settings, instance, kind settings, status path, state path)."""
    from mraster.engines import EngineInstance, get_kind, instance_settings, resolve_instance
    name = getattr(args, "instance", None) or os.environ.get("MRASTER_INSTANCE")
    if name:
        r = resolve_instance(name, loaded=loaded)
        if r.kind.name != "momentum":
            raise SystemExit(f"mraster momentum: instance {name} is of kind {r.kind.name}, not momentum")
        args.account_name = r.instance.account
        return r.settings, name, r.values, r.status_path, r.state_path
    kind = get_kind("momentum")
    inst = EngineInstance("momentum", "momentum")
    s = loaded.settings
    run_dir = Path(s.run_dir)
    return (s, inst.name, instance_settings(kind, inst), run_dir / kind.status_file.format(instance=inst.name),
            run_dir / kind.state_file.format(instance=inst.name))


def _risk_gate(loaded: Any, settings: Any, client: Any, account: str) -> Any:
    """The account's risk gate, with the owners of positions read from the instances' claims."""
    from mraster.engines import instances_file, load_instances
    from mraster.engines.owners import AccountOwners
    from mraster.safety.gate import RiskGate
    config = loaded.config_file or Path.cwd() / "dashboard_config.json"
    try:
        instances = load_instances(instances_file(config))
    except Exception:                       # an unreadable engines.json: owners from the resting orders only
        instances = []
    owners = AccountOwners(Path(settings.run_dir), account, instances)
    return RiskGate(settings, client, owner_of=owners.owner_of_position)


def run(loaded: Any, args: argparse.Namespace) -> int:
    from mraster.exchange.factory import make_exchange
    from mraster.exchange.market_cache import MarketCache
    from mraster.logs import get_logger, register_secrets, settings_secrets, setup_logging
    from mraster.safety import killswitch

    from momentum.config import config_from
    from momentum.engine import Engine

    settings, instance, values, status_path, state_path = resolve(loaded, args)
    settings = _with_key_files(settings, args)
    setup_logging(f"momentum.{instance}" if instance != "momentum" else "momentum", settings.loglevel,
                  settings.log_dir, secrets=settings_secrets(settings))
    register_secrets(settings_secrets(settings))
    log = get_logger("momentum")
    base = Path(loaded.config_file).resolve().parent if loaded.config_file else Path.cwd()
    try:
        cfg = config_from(values, instance=instance, status_path=status_path, state_path=state_path, base_dir=base,
                          account=getattr(args, "account_name", "main"), symbols=args.symbols, poll_time=args.poll_time, enable_trading=args.enable_trading,
                          update_logs=args.update_logs, order_notional=args.order_notional)
    except (ValueError, KeyError) as exc:
        print(f"mraster momentum: {exc}", file=sys.stderr)
        return 2
    if settings.paper:
        from mraster.paper_launch import PaperStartError, ensure_paper_exchange
        from mraster.settings.overrides import cli_overrides
        try:
            ensure_paper_exchange(settings, cli_overrides(args))
        except PaperStartError as exc:
            log.error("paper.unavailable", str(exc))
            return 1
    latch = killswitch.latch_path(settings)
    account = killswitch.account_key(settings)

    def fire(reason: str, details: dict[str, Any]) -> None:
        killswitch.fire(latch, account, f"momentum:{instance}", reason, **details)

    async def main() -> int:
        from mraster.journal import Journal
        client = make_exchange(settings)
        cache = MarketCache(client, list(cfg.symbols))
        journal = Journal(settings.journal_file, on_write_error=lambda what, exc: log.error(
            "momentum.journal_unwritten", f"journal write failed ({what}: {exc})"), account=cfg.account,
            instance=instance) if cfg.enable_trading else None     # its rows name it (the trade history splits by them)
        engine = Engine(client, cache, cfg, settings=settings, journal=journal,
                        entries_blocked=lambda: killswitch.entries_blocked(settings), fire_latch=fire,
                        gate=_risk_gate(loaded, settings, client, cfg.account) if cfg.enable_trading else None)
        stoppers: list[Callable[[], None]] = [engine.stop]
        tasks: list[asyncio.Task[Any]] = []
        rec_client = None
        if cfg.update_logs:
            from recorder.runner import Recorder, RecorderConfig
            rec_client = make_exchange(settings)
            recorder = Recorder(MarketCache(rec_client, list(cfg.symbols)),
                                RecorderConfig(list(cfg.symbols), Path(args.log_dir), None, False, f"momentum-{instance}"))
            stoppers.append(recorder.stop)
            tasks.append(asyncio.create_task(recorder.run()))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: [s() for s in stoppers])
        try:
            await cache.start()
            return await engine.run()
        except ValueError as exc:
            print(f"mraster momentum: {exc}", file=sys.stderr)
            return 2
        finally:
            for s in stoppers:
                s()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            await cache.close()
            await client.close()
            if rec_client is not None:
                await rec_client.close()
            if journal is not None:
                journal.close()

    log.info("momentum.config", f"instance {instance}: {', '.join(cfg.symbols)}; trading "
             f"{'on' if cfg.enable_trading else 'off'}; notional {cfg.order_notional:g} USD",
             instance=instance, symbols=list(cfg.symbols), trading=cfg.enable_trading)
    return asyncio.run(main())
