"""`mraster trial --engine maker [--seed S] [--out DIR]`: prints one line per invariant, exit code like `mraster trial`."""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

EXIT_OK, EXIT_VIOLATION, EXIT_INCOMPLETE = 0, 1, 3


def run_maker(args: argparse.Namespace, default_out: Callable[[], Any]) -> int:
    from trial.maker.runner import MakerTrialParams, run_maker_trial

    params = MakerTrialParams()
    if args.seed is not None:
        params = replace(params, seed=args.seed)
    out = Path(args.out) if args.out else Path(default_out())

    def on_term(*_: Any) -> None:        # SIGTERM: unwind like Ctrl+C, so every child process is stopped
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        result = asyncio.run(run_maker_trial(params, out))
    except KeyboardInterrupt:
        print(f"mraster trial --engine maker: stopped; every process of the trial was stopped ({out})",
              file=sys.stderr)
        return 128 + 15
    except RuntimeError as exc:
        print(f"mraster trial --engine maker: {exc}", file=sys.stderr)
        return EXIT_VIOLATION
    for inv in result["invariants"]:
        print(f"{inv['violations']:4d}  {inv['title']}")
    print(f"report: {out / 'report.md'}")
    if not result["passed"]:
        return EXIT_VIOLATION
    return EXIT_OK if result["plan_fulfilled"] else EXIT_INCOMPLETE
