"""Entry point of `mraster guard`."""
from __future__ import annotations

import sys


def run(loaded, args) -> int:
    print("mraster guard: not built yet", file=sys.stderr)
    return 1
