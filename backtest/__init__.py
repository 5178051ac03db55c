"""Backtester: minute features, a compiled parameter sweep (momentum and scanner strategies),
walk-forward ranking, look-ahead check, Dask scale-out. See docs/backtest.md."""
