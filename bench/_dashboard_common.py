"""Helpers shared by the dashboard benchmarks (not a benchmark itself)."""
from __future__ import annotations

import asyncio
import random
import socket
import time
from typing import Any, Awaitable, Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


async def raw_get(reader: Any, writer: Any, host: str, path: str) -> tuple[int, bytes]:
    """One keep-alive HTTP/1.1 GET on a raw connection: a client this light does not hide the server's
    latency behind its own (an httpx client was the bottleneck at 100 clients)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    return status, await reader.readexactly(length)


Request = Callable[[Any, Any, str], Awaitable[Any]]


async def poll(port: int, clients: int, requests: int, interval: float, request: Request,
               first: Request | None = None) -> tuple[list[float], float]:
    """`clients` keep-alive connections, each sending `requests` requests: one per `interval` seconds
    (a page polling, not in lockstep), or back to back when 0. `first` checks each connection's first
    answer before the clock starts. Returns the latencies (ms) and the wall time (s)."""
    latencies: list[float] = []
    start = asyncio.Event()

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**22)
        host = f"127.0.0.1:{port}"
        await (first or request)(reader, writer, host)
        await start.wait()
        await asyncio.sleep(interval * random.random())
        for _ in range(requests):
            t0 = time.perf_counter()
            await request(reader, writer, host)
            latencies.append((time.perf_counter() - t0) * 1000)
            if interval:
                await asyncio.sleep(max(0.0, interval - (time.perf_counter() - t0)))
        writer.close()

    tasks = [asyncio.create_task(one()) for _ in range(clients)]
    await asyncio.sleep(0.5)
    t0 = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    return latencies, time.perf_counter() - t0
