"""`mraster record` and `mraster data ...` (registered by commands/main.py)."""
from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
from pathlib import Path
from typing import Any, Callable

DEFAULT_STORE = "data/store"


def _symbols(text: str) -> list[str]:
    out = [s.strip().upper() for s in text.split(",") if s.strip()]
    bad = [s for s in out if not re.fullmatch(r"[A-Z0-9]{2,30}", s)]
    if not out or bad:
        raise argparse.ArgumentTypeError(f"expected symbols like BTCUSDT,ETHUSDT, got {text!r}")
    return list(dict.fromkeys(out))


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _day(text: str) -> str:
    if not re.fullmatch(r"\d{8}", text):
        raise argparse.ArgumentTypeError(f"expected YYYYMMDD, got {text!r}")
    return text


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("record", help="record five market streams per symbol into daily CSV files",
                       description="Keep a live cache of kline_1m, bookTicker, markPrice@1s, aggTrade and "
                                   "depth5@100ms per symbol and write one snapshot per symbol per venue second to "
                                   "kline_/bookTicker_/markPrice_/aggTrade_1s_/depth5_YYYYMMDD.csv (seed 002 "
                                   "columns), plus gaps_YYYYMMDD.csv and a status file.")
    p.add_argument("--symbols", type=_symbols, help="comma-separated symbols, e.g. BTCUSDT,ETHUSDT (required "
                   "unless --instance is given)")
    p.add_argument("--instance", metavar="NAME",
                   help="run the recorder engine instance NAME of engines.json: its SYMBOLS, POLL_TIME and "
                        "DELETE_EXISTING, CSV files in <ASTER_LOG_DIR>/recorders/NAME/, status in "
                        "<ASTER_RUN_DIR>/NAME.status.json, log in <ASTER_LOG_DIR>/NAME.jsonl")
    p.add_argument("--poll-time", type=_positive, metavar="S", help="stop cleanly after S seconds (default: run "
                   "until SIGTERM/Ctrl+C)")
    p.add_argument("--delete-existing", action="store_true",
                   help="delete today's CSV files of these families before writing (other days are kept)")
    p.add_argument("--log-dir", default="logs", help="directory of the CSV files (default: logs/)")
    p.add_argument("--name", default="recorder", help="instance name shown in the status file")
    p.add_argument("--paper", action="store_true", help="record from the paper exchange (ASTER_PAPER=true)")
    common(p)
    p.set_defaults(handler=run_record)

    d = sub.add_parser("data", help="the analytic store: load CSV days into Parquet/DuckDB, query, coverage",
                       description="Embedded analytic store over the recorder's CSV files: Parquet partitioned by "
                                   "date and symbol, registered in a DuckDB database.")
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True

    def store_args(q: argparse.ArgumentParser, with_logs: bool = True) -> None:
        if with_logs:
            q.add_argument("--log-dir", default="logs", help="directory of the CSV files (default: logs/)")
        q.add_argument("--store", default=DEFAULT_STORE, help=f"store directory (default: {DEFAULT_STORE}/)")
        q.set_defaults(handler=run_data, no_settings=True)

    q = dsub.add_parser("load", help="convert a day's CSV files to Parquet and register them (idempotent)")
    q.add_argument("--date", type=_day, help="YYYYMMDD (default: every CSV day not loaded yet, and today)")
    store_args(q)
    q = dsub.add_parser("query", help="run SQL on the store and print a table")
    q.add_argument("sql", help='e.g. "SELECT symbol, count(*) FROM book_ticker GROUP BY 1"')
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")
    q.add_argument("--max-rows", type=int, default=200, help="rows printed in table format (default 200)")
    q.add_argument("--read-only", action="store_true", help="open the database read-only (no SQL can change it)")
    store_args(q, with_logs=False)
    q = dsub.add_parser("coverage", help="rows, first/last second, coverage and gaps per symbol and day")
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")
    store_args(q)
    q = dsub.add_parser("cleanup", help="delete CSV days older than the retention that were loaded and verified")
    q.add_argument("--retention-days", type=int, default=7, help="keep this many most recent days (default 7)")
    q.add_argument("--dry-run", action="store_true", help="print what would be deleted, delete nothing")
    store_args(q)
    q = dsub.add_parser("export-bigquery", help="load Parquet partitions into BigQuery (extra 'bigquery')")
    q.add_argument("--project", required=True, help="Google Cloud project id")
    q.add_argument("--dataset", default="aster", help="BigQuery dataset (default: aster, as seed 002)")
    q.add_argument("--date", type=_day, help="YYYYMMDD (default: every loaded day)")
    q.add_argument("--dry-run", action="store_true",
                   help="print the load jobs and check the local schema against seed 002's DDL; no network")
    store_args(q, with_logs=False)


def instance_config(loaded: Any, args: argparse.Namespace) -> Any:
    """The RecorderConfig of `--instance NAME` from engines.json (the kernel's instance resolution, as every
    engine does); SystemExit with the reason when it cannot run (unknown, not a recorder, symbols another
    enabled recorder instance records, flags that engines.json decides)."""
    from mraster.engines import InstanceError, exclusive_conflicts, instances_file, load_instances, resolve_instance
    from mraster.marketdata.dirs import instance_dir
    from mraster.storage.atomic import CorruptFileError

    from recorder.runner import RecorderConfig

    if args.symbols or args.poll_time or args.delete_existing or args.log_dir != "logs" or args.name != "recorder":
        raise SystemExit("--instance takes its symbols, poll time and directory from engines.json; change them "
                         "there (or on the dashboard's Data page), not with flags")
    try:
        resolved = resolve_instance(args.instance, loaded=loaded)
        config = loaded.config_file or Path.cwd() / "dashboard_config.json"
        others = load_instances(instances_file(config))
    except (InstanceError, CorruptFileError) as exc:
        raise SystemExit(str(exc)) from None
    if resolved.kind.name != "recorder":
        raise SystemExit(f"instance {args.instance} is a {resolved.kind.name}, not a recorder")
    clash = exclusive_conflicts(resolved.instance, others)
    if clash:
        raise SystemExit(f"instance {args.instance}: " + "; ".join(clash))
    v = resolved.values
    return RecorderConfig(list(v["SYMBOLS"]), instance_dir(resolved.settings.log_dir, args.instance),
                          float(v["POLL_TIME"]) or None, bool(v["DELETE_EXISTING"]), args.instance,
                          status_path=resolved.status_path, instance=args.instance)


def run_record(loaded: Any, args: argparse.Namespace) -> int:
    from mraster.exchange.factory import make_exchange
    from mraster.exchange.market_cache import MarketCache
    from mraster.logs import get_logger, settings_secrets, setup_logging

    from recorder.runner import Recorder, RecorderBusy, RecorderConfig, UnknownSymbols

    s = loaded.settings
    setup_logging(args.instance or "recorder", s.loglevel, s.log_dir, secrets=settings_secrets(s))
    log = get_logger("recorder")
    if args.instance:
        try:
            config = instance_config(loaded, args)
        except SystemExit as exc:
            print(f"mraster record: {exc}", file=sys.stderr)
            log.error("recorder.config", str(exc), instance=args.instance, activity=True)
            return 2
    elif not args.symbols:
        print("mraster record: give --symbols (e.g. BTCUSDT,ETHUSDT) or --instance NAME", file=sys.stderr)
        return 2
    else:
        config = RecorderConfig(args.symbols, Path(args.log_dir), args.poll_time, args.delete_existing, args.name)
    if s.paper:
        from mraster.settings.overrides import cli_overrides
        from mraster.paper_launch import PaperStartError, ensure_paper_exchange
        try:
            ensure_paper_exchange(s, cli_overrides(args))
        except PaperStartError as exc:
            log.error("paper.unavailable", str(exc))
            return 1

    async def main() -> int:
        client = make_exchange(s)
        cache = MarketCache(client, config.symbols)
        recorder = Recorder(cache, config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, recorder.stop)
        try:
            return await recorder.run()
        except (RecorderBusy, UnknownSymbols) as exc:
            print(f"mraster record: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:            # logged with its traceback as recorder.failed; the status says failed
            print(f"mraster record: stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        finally:
            await client.close()

    log.info("recorder.start", f"recording {len(config.symbols)} symbol(s) into {config.log_dir}",
             symbols=config.symbols, paper=s.paper)
    return asyncio.run(main())


def run_data(loaded: Any, args: argparse.Namespace) -> int:
    from recorder.store.cli import run
    return run(args)
