"""Entry point of `mraster paper-exchange`."""
from __future__ import annotations

import sys


def run(loaded, args) -> int:
    print("mraster paper-exchange: not built yet", file=sys.stderr)
    return 1
