"""Repair latency of the bracket guard: from a venue-side cancel of a stop to the new stop resting.

Runs a real paper exchange and a real `mraster guard` child (both on loopback, in a temporary
directory), opens a position with brackets, then repeatedly cancels the stop through the paper
exchange's admin API, as the venue would, and times how long until a stop rests again.

    python3 bench/guard_repair_latency.py [--trials 200] [--fallback-trials 20] [--interval 3] [--pace 0.5]

Two figures:
- with the user-data stream (the normal path): median, p90, p99, max over --trials;
- with the stream down (`--no-stream`: the fallback timer, ASTER_GUARD_INTERVAL = --interval):
  median and worst case over --fallback-trials. Cancels are spread over the timer's period, so the
  worst case approaches the interval plus one check.
Baseline for scale: freqtrade checks stops on the exchange every 60 s by default.

Timing: t0 is taken just before the admin cancel is sent (so each figure includes that request),
t1 when a poll of the venue's engine state (admin API, ~every 5-20 ms) first shows a new stop.
The machine may be shared: figures are noisy; rerun on a quiet machine for the record.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mraster.domain.brackets import bracket_prices  # noqa: E402
from mraster.domain.ids import Role, client_order_id, trade_id_for_entry  # noqa: E402
from mraster.domain.types import OrderRequest, OrderType, Side  # noqa: E402
from mraster.exchange import wire  # noqa: E402
from mraster.exchange.factory import make_exchange  # noqa: E402
from paper.testing import PaperExchange  # noqa: E402
from mraster.settings import default_settings  # noqa: E402
from mraster.state import BotState, StateStore, Trade  # noqa: E402
from guard.testing import GuardProcess  # noqa: E402

KEY = "bench-guard"
SYMBOL = "BTCUSDT"
FREQTRADE_STOP_CHECK_S = 60.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class Venue:
    def __init__(self, px: PaperExchange):
        self.px = px
        # The paper exchange counts request weight per client IP, admin calls included: poll from another
        # loopback address so that this observer does not eat the guard's budget.
        self.http = httpx.Client(base_url=px.url, timeout=10.0,
                                 transport=httpx.HTTPTransport(local_address="127.0.0.2"))

    def stops(self) -> list:
        data = self.http.get("/admin/state", params={"account": KEY}).json()["accounts"].get(KEY, {})
        return [wire.order(o) for o in data.get("open_orders", [])
                if o["symbol"] == SYMBOL and o["origType"] == "STOP_MARKET"]

    def cancel(self, order_id: int) -> None:
        r = self.http.post("/admin/orders/cancel", json={"account": KEY, "symbol": SYMBOL, "orderId": order_id})
        r.raise_for_status()

    def wait_one_stop(self, timeout: float = 30.0, not_id: int | None = None) -> tuple[int, float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stops = self.stops()
            if len(stops) == 1 and stops[0].order_id != not_id:
                return stops[0].order_id, time.monotonic()
        raise RuntimeError("no stop came back in time")


async def open_position(px: PaperExchange, state_path: Path) -> None:
    """A long position entered as the bot does, its intended levels in the state file."""
    ex = make_exchange(default_settings().with_values(paper=True, paper_url=px.url, api_key=KEY,
                                                      api_secret="bench-secret"))
    try:
        rules = (await ex.symbol_rules())[SYMBOL]
        trade_id = trade_id_for_entry(SYMBOL, ex.now_ms())
        await ex.place_order(OrderRequest(SYMBOL, Side.BUY, OrderType.MARKET, client_order_id(trade_id, Role.ENTRY),
                                          quantity=Decimal("0.01")))
        pos = (await ex.positions(SYMBOL))[0]
        atr = float(pos.entry_price) * 0.01          # wide levels: the synthetic market must not hit them
        levels = bracket_prices(pos.entry_price, Side.BUY, atr, 1.3, 2.0, rules)
        trade = Trade(trade_id=trade_id, symbol=SYMBOL, side="LONG", status="open", qty=pos.qty,
                      entry_price=pos.entry_price, stop_price=levels.stop, take_profit_price=levels.take_profit,
                      atr=atr)
        StateStore(state_path).save(BotState(open_trades={trade_id: trade}))
    finally:
        await ex.close()


def trials(venue: Venue, guard: GuardProcess, n: int, pace_s: float, spread_s: float = 0.0) -> list[float]:
    """Cancel the stop n times, at most one cancel per `pace_s` (so the guard's request weight stays
    far below the venue's limit, as in real life); each time, the seconds until a new stop rests."""
    out = []
    stop_id, _ = venue.wait_one_stop()
    last = 0.0
    for i in range(n):
        pause_until = max(last + pace_s, time.monotonic() + spread_s * ((i * 0.37) % 1.0))
        while time.monotonic() < pause_until:  # spread cancels over the timer's phase; keep the pace
            venue.stops()
        last = t0 = time.monotonic()
        venue.cancel(stop_id)
        stop_id, t1 = venue.wait_one_stop(not_id=stop_id)
        out.append(t1 - t0)
        checks = guard.status().get("checks_total", 0)
        guard.wait_status(lambda s, c=checks: s.get("checks_total", 0) > c, 30, "the verification check")
    return out


def report(name: str, values: list[float]) -> None:
    print(f"{name}: n={len(values)} median={statistics.median(values) * 1000:.0f} ms "
          f"p90={percentile(values, 0.9) * 1000:.0f} ms p99={percentile(values, 0.99) * 1000:.0f} ms "
          f"max={max(values) * 1000:.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--fallback-trials", type=int, default=20)
    parser.add_argument("--interval", type=float, default=3.0, help="ASTER_GUARD_INTERVAL (default 3 s)")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep the logs there")
    parser.add_argument("--pace", type=float, default=0.5, help="at most one cancel per this many seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="guard-bench-") as tmp, \
            PaperExchange(Path(args.keep or tmp) / "venue", symbols=(SYMBOL,), seed=11) as px:
        tmp = args.keep or tmp
        venue = Venue(px)
        state = Path(tmp) / "aster_state.json"
        asyncio.run(open_position(px, state))
        env = {"ASTER_STATE_FILE": str(state)}

        guard = GuardProcess(Path(tmp) / "guard-stream", px, interval=args.interval, api_key=KEY,
                             api_secret="bench-secret", env=env).start()
        try:
            guard.wait_checked()
            with_stream = trials(venue, guard, args.trials, args.pace)
        finally:
            guard.stop()
        guard = GuardProcess(Path(tmp) / "guard-timer", px, interval=args.interval, stream=False, api_key=KEY,
                             api_secret="bench-secret", env=env).start()
        try:
            guard.wait_checked()
            timer_only = trials(venue, guard, args.fallback_trials, args.pace, spread_s=args.interval)
        finally:
            guard.stop()

    print(f"guard repair latency (venue cancel of a stop -> new stop resting), paper exchange on loopback, "
          f"ASTER_GUARD_INTERVAL={args.interval:g} s")
    report("with user-data stream", with_stream)
    report("stream down (timer only)", timer_only)
    med, p99 = statistics.median(with_stream), percentile(with_stream, 0.99)
    print(f"targets: median < 1000 ms: {'met' if med < 1 else 'MISSED'}; p99 < 2000 ms: "
          f"{'met' if p99 < 2 else 'MISSED'}")
    print(f"vs freqtrade's 60 s stop check: stream median {FREQTRADE_STOP_CHECK_S / med:.0f}x faster, "
          f"timer worst case {FREQTRADE_STOP_CHECK_S / max(timer_only):.0f}x faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
