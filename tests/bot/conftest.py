"""Fixtures of the bot's tests: real candle files from tests/data/bot, symbol rules, small builders."""
from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mraster.domain.rules import SymbolRules
from mraster.domain.types import Kline

DATA = Path(__file__).resolve().parents[1] / "data" / "bot"


def load_candles(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name)


def make_rules(symbol: str = "BTCUSDT", tick: str = "0.1", step: str = "0.001", min_qty: str = "0.001",
               max_qty: str = "1000", min_notional: str = "5", **kw) -> SymbolRules:
    return SymbolRules(symbol=symbol, tick_size=Decimal(tick), step_size=Decimal(step), min_qty=Decimal(min_qty),
                       max_qty=Decimal(max_qty), min_notional=Decimal(min_notional), **kw)


def klines_from_closes(closes, start_ms: int = 1_700_000_000_000, step_ms: int = 60_000, spread: float = 0.001):
    """Klines whose close follows `closes`; open = previous close, high/low around them."""
    out = []
    prev = closes[0]
    for i, c in enumerate(closes):
        hi, lo = max(prev, c) * (1 + spread), min(prev, c) * (1 - spread)
        t = start_ms + i * step_ms
        out.append(Kline(open_time=t, open=float(prev), high=float(hi), low=float(lo), close=float(c),
                         volume=1.0, close_time=t + step_ms - 1))
        prev = c
    return out


@pytest.fixture
def restore_logging():
    """`run()` configures the process's root logger; put pytest's handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    for h in handlers:
        if h not in root.handlers:
            root.addHandler(h)
    root.setLevel(level)


@pytest.fixture
def rules() -> SymbolRules:
    return make_rules()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
