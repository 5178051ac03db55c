"""Benchmark: feed and matching - 30 days of 1-minute bars for 10 symbols, 200 resting orders, as fast as possible.

Setup (not timed): the synthetic market writes 30 days x 10 symbols of 1m klines as plain kline CSV files
(the replay feed's input format), and 200 orders are placed: resting limits above and below the market,
stops and take-profits on open positions, trailing stops. Timed: loading the files into the replay feed,
then replaying every bar through the matching engine (triggers, fills, funding every 8 h, liquidation
checks), keeping 200 orders resting (a filled one is replaced at the end of each replayed hour).
No HTTP and no database: this is the feed + engine path the paper exchange and a backtester share.
Target: under 30 s.

    python3 bench/paper_replay_matching.py [--days 30] [--symbols 10] [--orders 200]
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mraster.domain.types import MarginType, OrderType, PositionSide, Side, TimeInForce, WorkingType  # noqa: E402
from paper.engine import Engine, NewOrder, VenueError  # noqa: E402
from paper.feeds.base import BarPath  # noqa: E402
from paper.feeds.replay import ReplayFeed  # noqa: E402
from paper.feeds.synthetic import SyntheticMarket  # noqa: E402

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "AVAXUSDT", "LINKUSDT",
           "LTCUSDT", "DOTUSDT", "NEARUSDT")
DAY = 86_400_000
START = 20_400 * DAY            # 2025-11-08


def write_data(folder: Path, symbols: tuple[str, ...], days: int) -> None:
    market = SyntheticMarket(symbols, seed=99)
    for s in symbols:
        b = market.history_arrays(s, START, START + days * DAY)
        tick = market.profiles[s].tick
        pd.DataFrame({"open_time_ms": b["open_time"], "open": b["open"] * tick, "high": b["high"] * tick,
                      "low": b["low"] * tick, "close": b["close"] * tick, "volume": b["volume"],
                      "quote_volume": b["quote_volume"], "trades": b["trades"], "taker_buy_volume": b["taker_buy"],
                      "taker_buy_quote_volume": b["taker_buy_quote"]}).to_csv(folder / f"{s}-1m.csv", index=False,
                                                                               float_format="%.10g")


class Book:
    """Keeps `target` orders resting across accounts and symbols (the benchmark's order flow)."""

    def __init__(self, engine: Engine, feed: ReplayFeed, target: int, seed: int = 1):
        self.e, self.feed, self.target = engine, feed, target
        self.rng = random.Random(seed)
        self.accounts = [f"acct-{i}" for i in range(10)]
        self.placed = self.rejected = 0

    def setup(self, now: int) -> None:
        for i, key in enumerate(self.accounts):
            self.e.account(key, now)
            symbol = self.feed.symbols[i % len(self.feed.symbols)]
            if i % 3 == 0:
                self.e.set_margin_type(key, symbol, MarginType.ISOLATED, now)
            self._order(key, NewOrder(symbol, Side.BUY if i % 2 else Side.SELL, OrderType.MARKET,
                                      quantity=self._qty(symbol, 2000)), now)
        self.refill(now)

    def _qty(self, symbol: str, notional: float) -> Decimal:
        m = self.e.markets[symbol]
        rules = self.e.specs[symbol].rules
        return rules.qty_for_notional(Decimal(str(notional)), m.spec.price(m.last_t), market=False)

    def _order(self, key: str, req: NewOrder, now: int) -> None:
        try:
            self.e.place(key, req, now)
            self.placed += 1
        except VenueError:
            self.rejected += 1

    def refill(self, now: int) -> None:
        missing = self.target - len(self.e.open_by_id)
        for _ in range(max(0, missing)):
            key = self.rng.choice(self.accounts)
            symbol = self.rng.choice(self.feed.symbols)
            m = self.e.markets[symbol]
            spec = self.e.specs[symbol]
            last = m.spec.price(m.last_t)
            pos = self.e.accounts[key].positions.get((symbol, PositionSide.BOTH))
            kind = self.rng.random()
            away = Decimal(str(self.rng.uniform(0.005, 0.06)))
            if pos is not None and pos.amount != 0 and kind < 0.35:
                exit_side = Side.SELL if pos.amount > 0 else Side.BUY
                sign = -1 if exit_side is Side.SELL else 1
                if kind < 0.15:
                    stop = spec.rules.round_price(last * (1 + sign * away), "nearest")
                    req = NewOrder(symbol, exit_side, OrderType.STOP_MARKET, stop_price=stop, close_position=True,
                                   working_type=WorkingType.MARK_PRICE)
                elif kind < 0.30:
                    tp = spec.rules.round_price(last * (1 - sign * away), "nearest")
                    req = NewOrder(symbol, exit_side, OrderType.TAKE_PROFIT_MARKET, stop_price=tp,
                                   close_position=True)
                else:
                    req = NewOrder(symbol, exit_side, OrderType.TRAILING_STOP_MARKET, quantity=abs(pos.amount),
                                   reduce_only=True, callback_rate=Decimal("1.5"))
            else:
                side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
                price = spec.rules.round_price(last * (1 - away if side is Side.BUY else 1 + away), "nearest")
                req = NewOrder(symbol, side, OrderType.LIMIT, quantity=self._qty(symbol, 50), price=price,
                               time_in_force=TimeInForce.GTC)
            self._order(key, req, now)


def replay(folder: Path, orders: int) -> dict:
    t0 = time.perf_counter()
    feed = ReplayFeed(folder, (), warmup_ms=0)
    t_load = time.perf_counter() - t0
    engine = Engine(feed.specs, start_balance=Decimal("100000"))
    for s in feed.symbols:
        bp = feed.book_params(s, 0)
        m = engine.markets[s]
        m.gap_t, m.level_qty, m.growth = bp.gap_t, bp.level_qty, bp.growth
    now = feed.start_time(0)

    def apply(updates: list) -> int:
        n = 0
        for u in updates:
            if isinstance(u, BarPath):
                engine.update_path(u.symbol, u.time, u.points, u.spread_t)
                n += 1
            else:
                engine.update_prices(u.symbol, u.time, u.last_t, u.mark_t, u.bid_t, u.ask_t)
        return n

    apply(feed.advance(now + 60_000))                    # the first bar of each symbol
    book = Book(engine, feed, orders)
    book.setup(now + 60_000)
    fills = events = funding = 0
    done = now + 60_000
    step = 3_600_000
    while done < feed.t_end:
        to = min(done + step, feed.t_end)
        updates = feed.advance(to)
        settlements = feed.settlements(done, to)
        apply(updates)
        for symbol, t, rate in settlements:
            funding += engine.settle_funding(symbol, Decimal(repr(rate)), t)
        out = engine.drain()
        fills += len(out.fills)
        events += len(out.events)
        book.refill(to)
        done = to
    total = time.perf_counter() - t0
    resting = engine.markets
    bars = len(feed.symbols) * (feed.t_end - now) // 60_000     # every bar of every symbol (paths or points)
    return {"load_s": t_load, "total_s": total, "bars": bars, "fills": fills, "events": events,
            "funding_payments": funding, "orders_placed": book.placed, "rejected": book.rejected,
            "resting_end": len(engine.open_by_id), "symbols": len(feed.symbols),
            "resting_indexed": sum(m.watch.size() for m in resting.values())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--orders", type=int, default=200)
    args = ap.parse_args()
    symbols = SYMBOLS[:args.symbols]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        write_data(folder, symbols, args.days)
        t_setup = time.perf_counter() - t
        r = replay(folder, args.orders)
    print(f"paper feed + matching replay: {args.days} days x {r['symbols']} symbols of 1m bars, "
          f"{args.orders} resting orders")
    print(f"  data generation (not timed)    : {t_setup:6.1f} s")
    print(f"  load CSV files into the feed   : {r['load_s']:6.2f} s")
    print(f"  total (load + replay)          : {r['total_s']:6.2f} s   (target < 30 s)  "
          f"{'OK' if r['total_s'] < 30 else 'MISSED'}")
    print(f"  bars replayed                  : {r['bars']:,}  ({r['bars'] / (r['total_s'] - r['load_s']):,.0f} bars/s)")
    print(f"  fills / user events            : {r['fills']:,} / {r['events']:,}")
    print(f"  orders placed (rejected)       : {r['orders_placed']:,} ({r['rejected']:,}); resting at end "
          f"{r['resting_end']}")
    print(f"  funding payments               : {r['funding_payments']:,}")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
