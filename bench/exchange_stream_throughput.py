"""Figure: market-stream throughput. A local WebSocket server replays recorded Binance combined-stream
messages (depth, kline, bookTicker, aggTrade); the client's market stream parses them into domain events
(with seeding and de-duplication) against a raw websockets reader that only does json.loads.
Run: python3 bench/exchange_stream_throughput.py"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from websockets.asyncio.client import connect  # noqa: E402

from _exchange_servers import replay_messages, start_replay, start_rest, stop_rest, stream_names  # noqa: E402
from mraster.exchange.client import BinanceCompatibleClient  # noqa: E402

REPEATS = 100


async def raw_reader(ws_url: str, n: int) -> float:
    async with connect(f"{ws_url}/stream?streams=x", compression=None, max_queue=None) as ws:
        t0 = time.perf_counter()
        for _ in range(n):
            json.loads(await ws.recv())
        return time.perf_counter() - t0


async def client_reader(client: BinanceCompatibleClient, n_messages: int) -> tuple[float, int]:
    stream = client.market_stream(stream_names())
    events, t0 = 0, None
    async for _ in stream:
        if t0 is None:
            t0 = time.perf_counter()
        events += 1
        if events >= n_messages:
            break
    elapsed = time.perf_counter() - t0
    await stream.close()
    return elapsed, events


async def main() -> None:
    messages = replay_messages(REPEATS)
    n = len(messages)
    rest_url, server, task = await start_rest()
    ws_url, ws_server = await start_replay(messages)
    client = BinanceCompatibleClient(rest_url, ws_url)
    try:
        raw_s = await raw_reader(ws_url, n)
        ours_s, events = await client_reader(client, n)
    finally:
        await client.close()
        ws_server.close()
        await ws_server.wait_closed()
        await stop_rest(server, task)
    print(f"messages replayed:                 {n}")
    print(f"client market stream:              {events / ours_s:,.0f} events/s ({ours_s:.2f} s)")
    print(f"baseline raw websockets + json:    {n / raw_s:,.0f} messages/s ({raw_s:.2f} s)")
    print(f"client throughput / baseline:      {(events / ours_s) / (n / raw_s):.2f}")


if __name__ == "__main__":
    asyncio.run(main())
