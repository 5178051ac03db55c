"""`mraster data load|query|coverage|cleanup|export-bigquery`."""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from typing import Any, Sequence

import duckdb

from recorder.store.duck import Store, StoreError


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], max_rows: int = 200) -> str:
    shown = [["" if v is None else str(v) for v in r] for r in rows[:max_rows]]
    widths = [max([len(c)] + [len(r[i]) for r in shown]) for i, c in enumerate(columns)]
    numeric = [all(_is_num(r[i]) for r in shown if r[i]) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric)).rstrip()

    out = [line(list(columns)), "  ".join("-" * w for w in widths)] + [line(r) for r in shown]
    if len(rows) > max_rows:
        out.append(f"... {len(rows) - max_rows} more row(s) (use --max-rows or --format csv)")
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def _is_num(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _emit(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, max_rows: int = 200) -> None:
    if fmt == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(columns)
        w.writerows(rows)
    elif fmt == "json":
        print(json.dumps([dict(zip(columns, r)) for r in rows], default=str, indent=1))
    else:
        print(format_table(columns, rows, max_rows))


def run(args: argparse.Namespace) -> int:
    store = Store(args.store)
    try:
        return _ACTIONS[args.data_command](store, args)
    except StoreError as exc:
        print(f"mraster data {args.data_command}: {exc}", file=sys.stderr)
        return 1
    except duckdb.Error as exc:
        print(f"mraster data {args.data_command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _load(store: Store, args: argparse.Namespace) -> int:
    if args.date:
        days = [args.date]
    else:
        days = store.pending_days(args.log_dir)
    if not days:
        print(f"nothing to load: no new CSV day in {args.log_dir}")
        return 0
    failed = 0
    for day in days:
        started = time.perf_counter()
        results = store.load_day(args.log_dir, day)
        if not results:
            print(f"{day}: no CSV files in {args.log_dir}", file=sys.stderr)
            failed += 1
            continue
        rows = [(r.table, r.csv_rows, r.parquet_rows, r.symbols, "yes" if r.verified else "NO", r.note)
                for r in results]
        print(f"{day}: loaded in {time.perf_counter() - started:.2f}s")
        print(format_table(["table", "csv_rows", "parquet_rows", "symbols", "verified", "note"], rows))
        failed += sum(1 for r in results if not r.verified)
    return 1 if failed else 0


def _query(store: Store, args: argparse.Namespace) -> int:
    cols, rows = store.query(args.sql, read_only=getattr(args, "read_only", False))
    if cols:
        _emit(cols, rows, args.format, args.max_rows)
    return 0


def _coverage(store: Store, args: argparse.Namespace) -> int:
    rows = store.coverage()
    cols = ["date", "symbol", "first_utc", "last_utc", "day_pct", "span_pct", "gap_seconds", "stale_seconds",
            "reconnects", "kline_rows", "book_ticker_rows", "mark_price_rows", "agg_trade_1s_rows", "depth5_rows"]
    _emit(cols, [[r.get(c) for c in cols] for r in rows], args.format, 10_000)
    loaded = store.loaded_days()
    pending = [d for d in store.csv_days(args.log_dir) if d not in loaded]
    if pending and args.format == "table":
        print(f"CSV days not loaded yet: {', '.join(pending)} (mraster data load)")
    return 0


def _cleanup(store: Store, args: argparse.Namespace) -> int:
    doomed, kept = store.cleanup(args.log_dir, args.retention_days, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for p in doomed:
        print(f"{verb} {p}")
    for line in kept:
        print(line)
    if not doomed:
        print(f"nothing to delete (retention {args.retention_days} days)")
    return 0


def _export(store: Store, args: argparse.Namespace) -> int:
    from recorder.store.bigquery import ExportError, check_schema, export, plan

    jobs = plan(store, args.project, args.dataset, args.date)
    problems = check_schema(store)
    for p in problems:
        print(f"schema: {p}", file=sys.stderr)
    if args.dry_run:
        for job in jobs:
            print(job.describe())
        print(f"{len(jobs)} load job(s); schema {'OK' if not problems else 'MISMATCH'} against seed 002's DDL")
        return 1 if problems else 0
    if problems:
        print("not exporting: the local schema differs from the DDL", file=sys.stderr)
        return 1
    try:
        for line in export(jobs, args.project):
            print(line)
    except ExportError as exc:
        print(f"mraster data export-bigquery: {exc}", file=sys.stderr)
        return 2
    return 0


_ACTIONS = {"load": _load, "query": _query, "coverage": _coverage, "cleanup": _cleanup, "export-bigquery": _export}
