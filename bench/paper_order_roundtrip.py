"""Benchmark: order round trips over loopback HTTP against a real paper exchange (child process).

Each pair is a signed POST /fapi/v1/order (LIMIT GTC away from the market, with a client order id)
followed by a signed DELETE /fapi/v1/order of it, on keep-alive HTTP/1.1 connections. The load comes
from WORKERS client processes with CONNECTIONS connections each, written as a raw asyncio HTTP client
so the client does not become the bottleneck. Keys are registered with the exchange, so every request's
HMAC is verified. Targets: >= 1000 pairs/s, p99 request latency < 20 ms.

    python3 bench/paper_order_roundtrip.py [--seconds 6] [--workers 2] [--connections 6]
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paper.testing import PaperExchange  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"


async def _request(reader, writer, method: str, path_qs: str, key: str) -> tuple[int, bytes]:
    writer.write(f"{method} {path_qs} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MBX-APIKEY: {key}\r\n"
                 f"Content-Length: 0\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


def _signed(path: str, params: str) -> str:
    q = f"{params}&timestamp={int(time.time() * 1000)}"
    sig = hmac.new(SECRET.encode(), q.encode(), hashlib.sha256).hexdigest()
    return f"{path}?{q}&signature={sig}"


async def _connection(port: int, key: str, n: int, stop_at: float, warm_until: float, lat: list, pairs: list,
                      errors: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    while time.perf_counter() < stop_at:
        cid = f"b{os.getpid()}-{n}-{i}"
        i += 1
        t0 = time.perf_counter()
        st1, body = await _request(reader, writer, "POST", _signed(
            "/fapi/v1/order", f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=5000"
                              f"&newClientOrderId={cid}"), key)
        t1 = time.perf_counter()
        st2, body2 = await _request(reader, writer, "DELETE", _signed(
            "/fapi/v1/order", f"symbol=BTCUSDT&origClientOrderId={cid}"), key)
        t2 = time.perf_counter()
        if st1 != 200 or st2 != 200:
            errors.append((st1, body[:120], st2, body2[:120]))
            continue
        if t0 >= warm_until:
            lat.append(t1 - t0)
            lat.append(t2 - t1)
            pairs.append(t2)
    writer.close()


def _worker(port: int, key: str, connections: int, start_at: float, warm_s: float, seconds: float, q) -> None:
    async def main():
        while time.time() < start_at:
            await asyncio.sleep(0.001)
        now = time.perf_counter()
        lat, pairs, errors = [], [], []
        await asyncio.gather(*(_connection(port, key, n, now + warm_s + seconds, now + warm_s, lat, pairs, errors)
                               for n in range(connections)))
        q.put((lat, len(pairs), errors[:3], len(errors)))
    asyncio.run(main())


def run(seconds: float, workers: int, connections: int, warm_s: float = 1.0) -> dict:
    with tempfile.TemporaryDirectory() as tmp, PaperExchange(Path(tmp), symbols=("BTCUSDT", "ETHUSDT"),
                                                             seed=1) as px:
        keys = [f"bench-{w}" for w in range(workers)]
        for k in keys:
            px.admin("POST", "/keys", key=k, secret=SECRET)
        q = mp.Queue()
        start_at = time.time() + 0.5
        procs = [mp.Process(target=_worker, args=(px.port, k, connections, start_at, warm_s, seconds, q))
                 for k in keys]
        for p in procs:
            p.start()
        results = [q.get(timeout=seconds + warm_s + 60) for _ in procs]
        for p in procs:
            p.join()
    lat = sorted(x for r in results for x in r[0])
    pairs = sum(r[1] for r in results)
    errors = sum(r[3] for r in results)
    if not lat:
        raise SystemExit(f"no successful pairs; errors: {[r[2] for r in results]}")

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000

    return {"pairs_per_s": pairs / seconds, "requests_per_s": 2 * pairs / seconds, "p50_ms": pct(0.50),
            "p99_ms": pct(0.99), "max_ms": lat[-1] * 1000, "mean_ms": statistics.fmean(lat) * 1000,
            "errors": errors, "workers": workers, "connections": workers * connections}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=6, help="connections per worker process")
    args = ap.parse_args()
    r = run(args.seconds, args.workers, args.connections)
    print(f"paper order round trip ({r['workers']} client processes, {r['connections']} keep-alive connections, "
          f"{args.seconds:.0f} s after 1 s warm-up)")
    print(f"  place+cancel pairs/s : {r['pairs_per_s']:8.0f}   (target >= 1000)  {'OK' if r['pairs_per_s'] >= 1000 else 'MISSED'}")
    print(f"  requests/s           : {r['requests_per_s']:8.0f}")
    print(f"  latency p50 / p99    : {r['p50_ms']:6.2f} / {r['p99_ms']:6.2f} ms   (target p99 < 20 ms)  "
          f"{'OK' if r['p99_ms'] < 20 else 'MISSED'}")
    print(f"  latency mean / max   : {r['mean_ms']:6.2f} / {r['max_ms']:6.2f} ms")
    print(f"  errors               : {r['errors']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
