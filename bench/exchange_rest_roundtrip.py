"""Figure: latency of one signed REST call through the full client (budget, signing, retries wrapper,
parsing 20 open orders into domain types) against a bare httpx GET + json.loads of the same answer,
on a local server. Run: python3 bench/exchange_rest_roundtrip.py"""
from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402

from _exchange_servers import start_rest, stop_rest  # noqa: E402
from mraster.exchange.client import BinanceCompatibleClient  # noqa: E402

CALLS = 400


async def timed(call, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await call()
        out.append(time.perf_counter() - t0)
    return out


async def main() -> None:
    url, server, task = await start_rest()
    client = BinanceCompatibleClient(url, url.replace("http", "ws"), "bench-key", "bench-secret")
    raw = httpx.AsyncClient(base_url=url)
    try:
        async def bare():
            (await raw.get("/fapi/v1/openOrders", params={"symbol": "BTCUSDT"})).json()

        async def full():
            await client.open_orders("BTCUSDT")

        await timed(bare, 50)
        await timed(full, 50)                                  # warm-up (and the first clock sync)
        base = await timed(bare, CALLS)
        ours = await timed(full, CALLS)
    finally:
        await raw.aclose()
        await client.close()
        await stop_rest(server, task)
    b_med, o_med = statistics.median(base) * 1e3, statistics.median(ours) * 1e3
    print(f"signed open_orders (20 orders) via client: median {o_med:.3f} ms, p95 "
          f"{sorted(ours)[int(CALLS * 0.95)] * 1e3:.3f} ms over {CALLS} calls")
    print(f"baseline bare httpx GET + json:            median {b_med:.3f} ms")
    print(f"client overhead ratio (median):            {o_med / b_med:.2f}x  (+{o_med - b_med:.3f} ms per call)")


if __name__ == "__main__":
    asyncio.run(main())
