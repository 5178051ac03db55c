"""`mraster db init|export|volume|stats`: the engines' trade database (mraster/tradedb.py).

It lives in ASTER_JOURNAL_FILE beside the scanner's journal. `init` creates or migrates it; `export` writes
one table to CSV (the seed's "export data for analysis"); `volume` is today's traded volume; `stats` the
daily stats."""
from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal
from typing import Any, Callable

from mraster.tradedb import SCHEMA_VERSION, TABLES, TradeDB, TradeDBError


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("db", help="the engines' trade database: init, export, today's volume, daily stats",
                       description="Trades, positions and daily stats of every engine instance (account and "
                                   "instance on every row), in ASTER_JOURNAL_FILE.")
    dsub = p.add_subparsers(dest="action", metavar="ACTION")
    dsub.required = True
    s = dsub.add_parser("init", help="create the tables or migrate them to this program's schema")
    common(s)
    s.set_defaults(handler=init)
    s = dsub.add_parser("export", help="write one table to a CSV file")
    s.add_argument("--table", required=True, choices=sorted(TABLES))
    s.add_argument("--csv", required=True, metavar="FILE")
    s.add_argument("--instance", help="only this engine instance's rows")
    common(s)
    s.set_defaults(handler=export)
    s = dsub.add_parser("volume", help="traded volume of today (UTC), per instance")
    s.add_argument("--instance")
    s.add_argument("--json", action="store_true")
    common(s)
    s.set_defaults(handler=volume)
    s = dsub.add_parser("stats", help="daily stats (volume, trades, fees, funding, PnL, hold equivalent)")
    s.add_argument("--instance")
    s.add_argument("--days", type=int, default=14)
    s.add_argument("--json", action="store_true")
    common(s)
    s.set_defaults(handler=stats)


def _open(loaded: Any, create: bool = False) -> TradeDB:
    return TradeDB(loaded.settings.journal_file, create=create)


def init(loaded: Any, args: argparse.Namespace) -> int:
    try:
        db = _open(loaded, create=True)
    except TradeDBError as exc:
        print(f"mraster db init: {exc}", file=sys.stderr)
        return 1
    steps = ", ".join(str(v) for v in db.migrated) or "none needed"
    print(f"trade database {db.path}: schema {SCHEMA_VERSION} (migrations applied: {steps})")
    db.close()
    return 0


def export(loaded: Any, args: argparse.Namespace) -> int:
    try:
        db = _open(loaded)
        n = db.export_csv(args.table, args.csv, args.instance)
    except (TradeDBError, OSError) as exc:
        print(f"mraster db export: {exc}", file=sys.stderr)
        return 1
    print(f"{n} row(s) of {args.table} written to {args.csv}")
    db.close()
    return 0


def volume(loaded: Any, args: argparse.Namespace) -> int:
    try:
        db = _open(loaded)
    except TradeDBError as exc:
        print(f"mraster db volume: {exc}", file=sys.stderr)
        return 1
    now = int(time.time() * 1000)
    total = db.volume_on(now, args.instance)
    if args.json:
        print(json.dumps({"day": time.strftime("%Y-%m-%d", time.gmtime()), "instance": args.instance,
                          "volume": str(total)}))
    else:
        print(f"Today's volume: ${total:,.2f}" + (f" ({args.instance})" if args.instance else ""))
    db.close()
    return 0


def stats(loaded: Any, args: argparse.Namespace) -> int:
    try:
        db = _open(loaded)
    except TradeDBError as exc:
        print(f"mraster db stats: {exc}", file=sys.stderr)
        return 1
    rows = db.daily_stats(args.instance, args.days)
    db.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'day':<11}{'instance':<11}{'volume':>12}{'trades':>8}{'fees':>10}{'funding':>10}{'pnl':>10}"
          f"{'hold eq.':>11}{'rot.':>6}")
    for r in rows:
        f = lambda k: f"{Decimal(str(r[k])):.2f}"  # noqa: E731 - table formatting
        print(f"{r['day']:<11}{r['instance']:<11}{f('volume'):>12}{r['trades']:>8}{f('fees'):>10}"
              f"{f('funding'):>10}{f('realized_pnl'):>10}{f('hold_equiv'):>11}{r['rotations']:>6}")
    return 0
