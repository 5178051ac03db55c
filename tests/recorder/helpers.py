"""Builders shared by the recorder tests: a cache fed by hand and a recorder on an injected venue clock."""
from __future__ import annotations

from pathlib import Path

from mraster.exchange.market_cache import MarketCache
from mraster.exchange.wire_stream import market_events
from recorder.runner import Recorder, RecorderConfig

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


class NoNetwork:
    """The cache is fed by hand; its client is only asked for the clock."""

    def now_ms(self) -> int:
        return 0


class VenueClock:
    def __init__(self, ms: int):
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def feed(cache: MarketCache, symbol: str, t_ms: int, price: float, trade_id: int) -> None:
    """One message of each of the five streams for `symbol` at venue time t_ms."""
    p = f"{price:.2f}"
    msgs = [
        {"e": "kline", "E": t_ms, "s": symbol, "k": {"t": t_ms // 60000 * 60000, "T": t_ms // 60000 * 60000 + 59999,
                                                     "i": "1m", "o": p, "h": p, "l": p, "c": p, "v": "1", "q": p,
                                                     "n": 1, "x": False}},
        {"e": "bookTicker", "u": trade_id, "E": t_ms, "T": t_ms, "s": symbol, "b": f"{price - 0.5:.2f}", "B": "2",
         "a": f"{price + 0.5:.2f}", "A": "1"},
        {"e": "markPriceUpdate", "E": t_ms, "s": symbol, "p": p, "i": f"{price - 1:.2f}", "r": "0.0001",
         "T": t_ms // 28_800_000 * 28_800_000 + 28_800_000},
        {"e": "aggTrade", "E": t_ms, "s": symbol, "a": trade_id, "p": p, "q": "0.5", "f": trade_id, "l": trade_id,
         "T": t_ms, "m": trade_id % 2 == 0},
        {"e": "depthUpdate", "E": t_ms, "T": t_ms, "s": symbol, "U": trade_id, "u": trade_id, "pu": trade_id - 1,
         "b": [[f"{price - 0.5 - i:.2f}", "1"] for i in range(5)], "a": [[f"{price + 0.5 + i:.2f}", "2"] for i in range(5)]},
    ]
    for m in msgs:
        for ev in market_events(m):
            cache.apply(ev, t_ms / 1000, live=False)


def make_recorder(log_dir: Path, clock: VenueClock, symbols=SYMBOLS) -> Recorder:
    cache = MarketCache(NoNetwork(), symbols, clock=lambda: clock.ms / 1000)
    return Recorder(cache, RecorderConfig(list(symbols), log_dir), now_ms=clock)


def run_seconds(rec: Recorder, clock: VenueClock, start_ms: int, seconds: int, trade_id: int = 1) -> int:
    for i in range(seconds):
        t = start_ms + i * 1000
        for s in rec.cache.symbols:
            feed(rec.cache, s, t + 400, 100.0 + i, trade_id)
            trade_id += 1
        clock.ms = t + 1000 + 250
        rec.tick(t + 1000)
    return trade_id
