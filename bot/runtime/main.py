"""Entry point of `mraster bot`."""
from __future__ import annotations

import sys


def run(loaded, args) -> int:
    print("mraster bot: not built yet", file=sys.stderr)
    return 1
