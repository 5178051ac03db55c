"""`mraster deltaneutral [--instance NAME]`: run seed 004's delta-neutral operator (docs/deltaneutral.md)."""
from __future__ import annotations

import argparse
from typing import Any, Callable


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("deltaneutral", help="the delta-neutral operator: equal LONG/SHORT legs held and rotated",
                       description="Run one delta-neutral operator instance (engines.json, kind deltaneutral): "
                                   "opens equal LONG and SHORT legs, holds them past the hold-time multiplier, "
                                   "rotates them for volume, closes a pair on loss, drift or near liquidation.")
    p.add_argument("--instance", help="engine instance name (default: MRASTER_INSTANCE)")
    common(p)
    p.set_defaults(handler=run)


def run(loaded: Any, args: argparse.Namespace) -> int:
    from deltaneutral.main import run as run_operator
    return run_operator(loaded, args)
