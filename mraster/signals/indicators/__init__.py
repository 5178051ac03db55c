"""Pure, vectorised indicators over numpy arrays (shared by live scanning and backtests)."""
from mraster.signals.indicators.core import atr, rsi, true_range, wilder_smooth

__all__ = ["atr", "rsi", "true_range", "wilder_smooth"]
