"""`mraster backtest build|sweep` (also `python -m backtest ...`)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

EXIT_PROBLEM = 1
EXIT_INTERRUPTED = 130


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("backtest", help="feature builder and parameter sweep (momentum and scanner strategies)",
                       description="Build minute features from recorded data or kline files, then sweep "
                                   "parameter grids through the compiled engine (docs/backtest.md).")
    bsub = p.add_subparsers(dest="action", metavar="ACTION")
    bsub.required = True

    b = bsub.add_parser("build", help="minute feature table (backtest_inputs.csv)")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--log-dir", "--log_dir", metavar="DIR", help="recorder CSVs (kline_/bookTicker_/markPrice_YYYYMMDD.csv)")
    src.add_argument("--store", metavar="PATH", help="DuckDB file or Parquet directory with kline/book_ticker/mark_price")
    src.add_argument("--klines", metavar="DIR|NAME",
                     help="plain 1m kline files (a directory, or a name under mraster/data/replay/, e.g. binance-um-2026-02)")
    b.add_argument("--symbols", help="comma-separated (default: all found)")
    b.add_argument("--start-date", "--start_date", help="YYYY-MM-DD (UTC, inclusive)")
    b.add_argument("--end-date", "--end_date", help="YYYY-MM-DD (UTC, inclusive)")
    b.add_argument("--out-csv", "--out_csv", required=True, metavar="FILE")
    b.add_argument("--windows", default="10,30,60", help="rolling windows in minutes (default 10,30,60)")
    b.add_argument("--spread-bps", type=float, default=1.0,
                   help="spread model for kline files without quotes (default 1.0 bps)")
    b.set_defaults(handler=build, no_settings=True)

    s = bsub.add_parser("sweep", help="run a parameter grid and rank the configurations")
    s.add_argument("--config-file", "--config_file", required=True, metavar="FILE", help="config_grid.json")
    s.add_argument("--inputs-csv", "--inputs_csv", required=True, metavar="FILE", help="from 'backtest build'")
    s.add_argument("--out-config-map-csv", "--out_config_map_csv", required=True, metavar="FILE")
    s.add_argument("--out-ranked-csv", "--out_ranked_csv", required=True, metavar="FILE")
    s.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="Dask distributed scheduler to spread chunks over")
    s.add_argument("--workers", type=int, default=0,
                   help="start a local Dask cluster with this many worker processes (default: this process)")
    s.add_argument("--plot-top", type=int, default=0, metavar="N", help="PNG + HTML plots of the top N configurations")
    s.add_argument("--plot-dir", metavar="DIR", help="where plots go (default: next to the ranked CSV, plots/)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(handler=sweep, no_settings=True)

    j = bsub.add_parser("job", help="run one job directory (job.json -> progress, ranked table, details); "
                                    "what the dashboard's Backtest page starts")
    j.add_argument("--job-dir", required=True, metavar="DIR")
    j.add_argument("--check", action="store_true", help="only validate job.json's grid (prints one JSON line)")
    j.set_defaults(handler=job, no_settings=True)


def _fail(msg: str) -> int:
    print(f"mraster backtest: {msg}", file=sys.stderr)
    return EXIT_PROBLEM


def _write_csv(df: Any, path: str | Path) -> None:
    from mraster.storage.atomic import write_text_atomic
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(p, df.to_csv(index=False, float_format="%.10g"))


def build(_loaded: Any, args: argparse.Namespace) -> int:
    from backtest.features import FeatureError, build_features, load_klines, load_log_dir, load_store
    try:
        windows = [int(w) for w in args.windows.split(",") if w.strip()]
        if not windows or min(windows) < 1:
            raise ValueError
    except ValueError:
        return _fail(f"--windows must be positive whole numbers, got {args.windows!r}")
    symbols = [s.strip().upper() for s in args.symbols.split(",")] if args.symbols else None
    t0 = time.perf_counter()
    try:
        if args.log_dir:
            data = load_log_dir(args.log_dir, symbols, args.start_date, args.end_date)
        elif args.store:
            data = load_store(args.store, symbols, args.start_date, args.end_date)
        else:
            data = load_klines(args.klines, symbols, args.start_date, args.end_date, args.spread_bps)
        df = build_features(data, windows)
    except (FeatureError, OSError) as exc:
        return _fail(str(exc))
    _write_csv(df, args.out_csv)
    sources = ", ".join(sorted({f"{q}/{f}" for q, f in zip(df["quote_source"], df["funding_source"])}))
    print(f"wrote {len(df)} rows for {df['symbol'].nunique()} symbols to {args.out_csv} "
          f"in {time.perf_counter() - t0:.1f}s (quotes/funding: {sources})")
    return 0


def sweep(_loaded: Any, args: argparse.Namespace) -> int:
    import pandas as pd

    from backtest.grid import GridError, expand, load_grid, settings_of
    from backtest.lookahead import LookaheadError, check_sweep
    from backtest.prep import InputError, check_inputs
    from backtest.sweep import arrays_for, ranked_table, run_sweep

    try:
        cfg = load_grid(args.config_file)
        settings = settings_of(cfg)
        inputs = pd.read_csv(args.inputs_csv)
        check_inputs(inputs)
        strategy, configs = expand(cfg, sorted(inputs["symbol"].unique()))
    except (GridError, InputError, OSError, ValueError) as exc:
        return _fail(str(exc))
    _write_csv(mapping_table_from(strategy, configs, settings), args.out_config_map_csv)
    arrays = arrays_for(inputs, sorted(configs["symbol"].unique()), settings)
    try:
        n_checked = check_sweep(strategy, arrays, configs, int(settings["cooldown_min"]))
    except LookaheadError as exc:
        return _fail(f"LOOK-AHEAD CHECK FAILED: {exc}")
    print(f"look-ahead check passed on {n_checked} configurations; sweeping {len(configs)} configurations "
          f"({strategy}, stops fill {settings['stop_exit_price']}, train_frac {settings['train_frac']})")
    t0 = time.perf_counter()
    res = run_sweep(inputs, strategy, configs, settings, scheduler=args.scheduler, workers=args.workers,
                    progress=not args.no_progress)
    ranked = ranked_table(res)
    _write_csv(ranked, args.out_ranked_csv)
    elapsed = time.perf_counter() - t0
    if not res.complete:
        print(f"interrupted: {res.n_done} of {res.n_tasks} chunks finished; their {len(ranked)} rows are in "
              f"{args.out_ranked_csv} (column complete=False)", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{len(configs)} configurations in {elapsed:.1f}s; ranked table: {args.out_ranked_csv}")
    if len(ranked):
        cols = [c for c in ("rank", "oos_rank", "config_id", "symbol", "is_total_pnl", "is_trades",
                            "oos_total_pnl") if c in ranked]
        print(ranked[cols].head(10).to_string(index=False))
    if args.plot_top > 0:
        from backtest.plots import plot_top
        out_dir = Path(args.plot_dir) if args.plot_dir else Path(args.out_ranked_csv).parent / "plots"
        files = plot_top(ranked, strategy, arrays, configs, settings, args.plot_top, out_dir)
        print(f"plots: {len(files)} files in {out_dir}")
    return 0


def job(_loaded: Any, args: argparse.Namespace) -> int:
    from backtest.job import check_job, run_job
    return check_job(Path(args.job_dir)) if args.check else run_job(Path(args.job_dir))


def mapping_table_from(strategy: str, configs: Any, settings: dict) -> Any:
    from backtest.sweep import SweepResult, mapping_table
    return mapping_table(SweepResult(strategy, configs, configs[["config_id"]], settings, 0, 0))
