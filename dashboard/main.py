"""Entry point of `mraster dashboard`."""
from __future__ import annotations

import sys


def run(loaded, args) -> int:
    print("mraster dashboard: not built yet", file=sys.stderr)
    return 1
