"""Shared fixtures: real 1m perpetual data (tests/data/backtest) turned into the sweep's inputs once."""
from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data" / "backtest"
SYMBOLS = ["DOTUSDT", "LINKUSDT", "LTCUSDT"]


@pytest.fixture(scope="session")
def real_inputs():
    from backtest.features import build_features, load_klines
    return build_features(load_klines(DATA, SYMBOLS, spread_bps=1.0), [10, 30, 60])


@pytest.fixture(scope="session")
def real_arrays(real_inputs):
    from backtest.sweep import split_inputs
    return split_inputs(real_inputs, SYMBOLS, 0.5)
