"""Figure: can the trial's invariant monitor poll the venue every 150 ms, and what does one poll cost?

Starts a paper exchange (12 symbols, admin on, a free port) as a child process, opens 12 positions
with a stop and a take-profit each through the project's client, then times:
  1. `GET /admin/state` of the account (what the monitor polls), against `GET /paper/info` (the
     cheapest endpoint of the same server) as the baseline;
  2. the monitor's evaluation of one snapshot (parse, stop gaps, duplicates), pure Python.
Run: python3 bench/trial_monitor_poll.py
"""
from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx

from mraster.domain.ids import Role, client_order_id
from mraster.domain.types import OrderRequest, OrderType, Side
from mraster.exchange.factory import make_exchange
from paper.testing import PaperExchange
from mraster.settings import default_settings
from mraster.settings.fields import DEFAULT_SYMBOLS
from trial.invariants import EpisodeTracker, duplicates, parse_account, unprotected

SYMBOLS = tuple(DEFAULT_SYMBOLS.split(","))
ROUNDS = 400


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def open_positions(url: str) -> None:
    ex = make_exchange(default_settings().with_values(paper=True, paper_url=url))
    try:
        rules = await ex.symbol_rules()
        books = await ex.book_tickers()
        for i, symbol in enumerate(SYMBOLS):
            r, ask = rules[symbol], Decimal(repr(books[symbol].ask_price))
            qty = r.round_qty(Decimal(60) / ask, market=True, mode="up")
            tid = f"{symbol}.b{i}"
            await ex.place_order(OrderRequest(symbol=symbol, side=Side.BUY, type=OrderType.MARKET, quantity=qty,
                                              client_order_id=client_order_id(tid, Role.ENTRY)))
            for role, typ, factor in ((Role.STOP, OrderType.STOP_MARKET, "0.95"),
                                      (Role.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET, "1.05")):
                await ex.place_order(OrderRequest(symbol=symbol, side=Side.SELL, type=typ, close_position=True,
                                                  stop_price=r.round_price(ask * Decimal(factor), "down"),
                                                  client_order_id=client_order_id(tid, role)))
    finally:
        await ex.close()


async def time_get(client: httpx.AsyncClient, path: str, params: dict) -> list[float]:
    out = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        r = await client.get(path, params=params)
        r.raise_for_status()
        r.json()
        out.append((time.perf_counter() - t) * 1000)
    return out


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, \
            PaperExchange(Path(tmp), symbols=SYMBOLS, seed=3, admin=True) as px:
        await open_positions(px.url)
        async with httpx.AsyncClient(base_url=px.url, timeout=10) as client:
            state = await time_get(client, "/admin/state", {"account": "paper-key"})
            info = await time_get(client, "/paper/info", {})
            snap = (await client.get("/admin/state", params={"account": "paper-key"})).json()
    account = snap["accounts"]["paper-key"]
    gaps, dups = EpisodeTracker(2.0), EpisodeTracker(2.0)
    evals = []
    for i in range(2000):
        t = time.perf_counter()
        positions, orders = parse_account(account)
        gaps.observe(i * 0.15, i, unprotected(positions, orders))
        dups.observe(i * 0.15, i, duplicates(positions, orders))
        evals.append((time.perf_counter() - t) * 1e6)
    print(f"snapshot: {len(account['positions'])} positions, {len(account['open_orders'])} open orders, "
          f"{len(str(snap))} characters")
    print(f"GET /admin/state  p50 {statistics.median(state):6.2f} ms  p99 {pct(state, 0.99):6.2f} ms  ({ROUNDS} calls)")
    print(f"GET /paper/info   p50 {statistics.median(info):6.2f} ms  p99 {pct(info, 0.99):6.2f} ms  (baseline)")
    print(f"ratio state/info  p50 {statistics.median(state) / statistics.median(info):.2f}x")
    print(f"evaluation of one snapshot: p50 {statistics.median(evals):.0f} us, p99 {pct(evals, 0.99):.0f} us")
    used = (statistics.median(state) + statistics.median(evals) / 1000) / 150
    print(f"poll budget used at a 150 ms period: {used:.1%}")


if __name__ == "__main__":
    asyncio.run(main())
