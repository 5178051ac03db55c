"""`python -m backtest ...`: the same as `mraster backtest ...`."""
import sys

from commands.main import main

raise SystemExit(main(["backtest", *sys.argv[1:]]))
