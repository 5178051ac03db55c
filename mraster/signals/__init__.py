"""Pure, vectorised signal code: the live scan and a backtester call the same functions."""
from mraster.signals.blockers import (EdgeEstimateValue, FilterParams, costs_in_r, funding_blocked, heuristic_edge,
                       heuristic_win_prob, screen, spread_blocked, wickiness_blocked)
from mraster.signals.signals import (Candles, SignalFrame, SignalParams, SignalRow, align_htf, latest_signal,
                      latest_signals, signal_frame, wickiness)
from mraster.signals.universe import Universe, UniverseParams, select_universe

__all__ = [
    "Candles", "EdgeEstimateValue", "FilterParams", "SignalFrame", "SignalParams", "SignalRow", "Universe",
    "UniverseParams", "align_htf", "costs_in_r", "funding_blocked", "heuristic_edge", "heuristic_win_prob",
    "latest_signal", "latest_signals", "screen", "select_universe", "signal_frame", "spread_blocked", "wickiness",
    "wickiness_blocked",
]
