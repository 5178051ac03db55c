"""`mraster trial`: a paper trading day under faults, with an invariant report.

Exit codes: 0 every invariant at zero violations and every planned fault carried out; 1 an
invariant was violated (or the run stopped early); 2 bad arguments; 3 invariants held but a
planned fault could not be carried out (e.g. no entry to kill at), so the run proved less.
"""
from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from pathlib import Path
from typing import Any, Callable

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("trial", help="a whole paper trading day under faults, with an invariant report",
                       description="Start the paper exchange, dashboard, bot and guard as a user would, run a "
                                   "seeded schedule of faults over an accelerated market day, check the invariants "
                                   "continuously and write report.md + equity.png.")
    p.add_argument("--short", action="store_true", help="the short version (a few market hours, fewer faults)")
    p.add_argument("--seed", type=int, help="seed of the fault schedule and every random choice")
    p.add_argument("--hours", type=float, help="market hours to simulate (full: 24)")
    p.add_argument("--speed", type=float, help="market seconds per wall second (full: 60)")
    p.add_argument("--symbols", help="comma-separated symbols (default: the 12 default symbols)")
    p.add_argument("--policy", choices=("active", "shadow"),
                   help="active: the bandit admits and sizes the entries; shadow: plain sizing while the policy "
                        "watches (full: shadow, short: active)")
    p.add_argument("--out", metavar="DIR", help="work directory (default: trial_out/<UTC timestamp>)")
    p.add_argument("--engine", choices=("scanner", "maker"), default="scanner",
                   help="scanner: bot and guard (default); maker: seed 003's cycle maker under its own faults "
                        "and invariants (docs/maker.md)")
    common(p)
    p.set_defaults(handler=run, no_settings=True)


def params_from_args(args: argparse.Namespace) -> Any:
    from mraster.settings import parse_assignments
    from trial.params import PRESETS, with_overrides

    base = PRESETS["short" if args.short else "full"]
    symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip()) if args.symbols else None
    extra = dict(base.extra_settings)
    extra.update(parse_assignments(getattr(args, "assign", []) or []))
    params = with_overrides(base, seed=args.seed, market_hours=args.hours, speed=args.speed, symbols=symbols,
                            policy=getattr(args, "policy", None), extra_settings=extra)
    if params.market_hours <= 0 or params.speed <= 0:
        raise ValueError("--hours and --speed must be positive")
    if len(params.symbols) < 1:
        raise ValueError("--symbols needs at least one symbol")
    return params


def run(loaded: Any, args: argparse.Namespace) -> int:
    from trial.runner import run_trial
    from trial.workdir import default_out_dir

    if getattr(args, "engine", "scanner") == "maker":
        from trial.maker.cli import run_maker
        return run_maker(args, default_out_dir)

    try:
        params = params_from_args(args)
    except Exception as exc:
        print(f"mraster trial: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out) if args.out else default_out_dir()
    command = "mraster " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["trial"] \
        else "mraster trial" + (" --short" if args.short else "") + (f" --policy {args.policy}" if args.policy
                                                                      else "")
    try:
        result = asyncio.run(run_trial(params, out, command))
    except (ValueError, FileExistsError) as exc:
        print(f"mraster trial: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except asyncio.CancelledError:          # SIGTERM: the run's own cleanup has stopped every process
        print(f"mraster trial: stopped by SIGTERM; every process of the trial was stopped ({out})", file=sys.stderr)
        return 128 + 15
    for inv in result["invariants"]:
        print(f"{inv['violations']:4d}  {inv['title']}")
    print(f"report: {Path(result['work_dir']) / 'report.md'}")
    if not result["passed"]:
        return EXIT_VIOLATION
    return EXIT_OK if result["plan_fulfilled"] else EXIT_INCOMPLETE
