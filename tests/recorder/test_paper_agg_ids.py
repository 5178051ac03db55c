"""The paper venue's trades: aggregate trade ids rise with trade time, as on the venue (a client that drops
trades with an id at or below the last one seen, like the market stream and the cache, lost trades before)."""
from __future__ import annotations

from paper.feeds.synthetic import SyntheticFeed


def test_synthetic_agg_trade_ids_rise_with_trade_time():
    feed = SyntheticFeed(("BTCUSDT", "ETHUSDT"), seed=3)
    start = 1_700_000_000_000 // 60_000 * 60_000
    for symbol in ("BTCUSDT", "ETHUSDT"):
        trades = feed.agg_trades(symbol, start, start + 30 * 60_000)
        assert len(trades) > 300
        keys = [(t.time, t.agg_id) for t in trades]
        assert keys == sorted(keys)
        ids = [t.agg_id for t in trades]
        assert all(b > a for a, b in zip(ids, ids[1:]))
