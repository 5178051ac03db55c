"""Benchmark: place-and-cancel pairs per second on the paper exchange, aster-v3 profile against aster-v1, same run.

Each pair is a signed POST order (LIMIT GTC away from the market, with a client order id) and a signed DELETE
of it, on keep-alive HTTP/1.1 connections from WORKERS client processes (a raw asyncio client, as in
bench/paper_order_roundtrip.py). aster-v1: `/fapi/v1/order`, API key + HMAC-SHA256 (the key is registered, so
the server verifies every HMAC). aster-v3: `/fapi/v3/order`, API-wallet EIP-712 signatures (the server
recovers the signer of every request, checks the agent and the nonce window and keeps the last 100 nonces).
Both sign live, per request, with the project's signers (mraster/exchange/signing.py, mraster/exchange/v3sign.py).
The profiles alternate (v1, v3, v1, v3, ...) so a change of machine load hits both; the server's CPU time
per request comes from /proc, which isolates the server's share from the client's signing.

    python3 bench/paper_profiles_roundtrip.py [--seconds 5] [--rounds 2] [--workers 2] [--connections 6]
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mraster.exchange import v3sign  # noqa: E402
from paper.testing import PaperExchange  # noqa: E402
from mraster.exchange.signing import encode_params, signature  # noqa: E402
from paper_order_roundtrip import _request  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
V3_KEYS = [bytes(random.Random(100 + w).getrandbits(8) for _ in range(32)).hex() for w in range(16)]


class Signer:
    """Builds the signed path+query of one request for a profile (keeps its own monotonic nonce)."""

    def __init__(self, profile: str, worker: int, offset_ms: int):
        self.profile, self.offset_ms = profile, offset_ms
        self.prefix = "/fapi/v3/order" if profile == "aster-v3" else "/fapi/v1/order"
        self.key = V3_KEYS[worker]
        self.address = v3sign.address_of(self.key)
        self.last = 0
        self.requests = 0

    def __call__(self, params: list[tuple[str, str]]) -> str:
        self.requests += 1
        if self.profile == "aster-v3":
            self.last = max((int(time.time() * 1000) + self.offset_ms) * 1000, self.last + 1)
            payload = v3sign.signed_payload(params, signer=self.address, private_key=self.key, nonce_us=self.last,
                                            chain_id=1666)
            return f"{self.prefix}?{payload}"
        q = encode_params(params + [("timestamp", str(int(time.time() * 1000) + self.offset_ms))])
        return f"{self.prefix}?{q}&signature={signature(SECRET, q)}"


async def _connection(port: int, key: str, sign: Signer, n: int, stop_at: float, warm_until: float, lat: list,
                      pairs: list, errors: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    while time.perf_counter() < stop_at:
        cid = f"b{os.getpid()}-{n}-{i}"
        i += 1
        t0 = time.perf_counter()
        st1, body = await _request(reader, writer, "POST", sign(
            [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
             ("quantity", "0.002"), ("price", "5000"), ("newClientOrderId", cid)]), key)
        t1 = time.perf_counter()
        st2, body2 = await _request(reader, writer, "DELETE", sign(
            [("symbol", "BTCUSDT"), ("origClientOrderId", cid)]), key)
        t2 = time.perf_counter()
        if st1 != 200 or st2 != 200:
            errors.append((st1, body[:120], st2, body2[:120]))
            continue
        if t0 >= warm_until:
            lat.append(t1 - t0)
            lat.append(t2 - t1)
            pairs.append(t2)
    writer.close()


def _worker(port: int, profile: str, w: int, offset_ms: int, connections: int, start_at: float, warm_s: float,
            seconds: float, q) -> None:
    async def main():
        while time.time() < start_at:
            await asyncio.sleep(0.001)
        now = time.perf_counter()
        lat, pairs, errors = [], [], []
        sign = Signer(profile, w, offset_ms)            # one nonce sequence per agent, shared by its connections
        cpu0 = time.process_time()
        await asyncio.gather(*(_connection(port, f"bench-{w}", sign, n, now + warm_s + seconds, now + warm_s, lat,
                                           pairs, errors) for n in range(connections)))
        cpu = time.process_time() - cpu0
        q.put((lat, len(pairs), errors[:3], len(errors), cpu, sign.requests))
    asyncio.run(main())


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_one(px: PaperExchange, profile: str, seconds: float, workers: int, connections: int,
            warm_s: float = 1.0) -> dict:
    import httpx
    offset_ms = httpx.get(px.url + "/fapi/v1/time").json()["serverTime"] - int(time.time() * 1000)
    q = mp.Queue()
    start_at = time.time() + 0.5
    procs = [mp.Process(target=_worker, args=(px.port, profile, w, offset_ms, connections, start_at, warm_s, seconds,
                                              q)) for w in range(workers)]
    for p in procs:
        p.start()
    time.sleep(max(0.0, start_at + warm_s - time.time()))    # a benchmark's schedule, not test synchronisation
    cpu0 = _cpu_s(px.proc.pid)
    results = [q.get(timeout=seconds + warm_s + 60) for _ in procs]
    cpu1 = _cpu_s(px.proc.pid)
    for p in procs:
        p.join()
    lat = sorted(x for r in results for x in r[0])
    pairs = sum(r[1] for r in results)
    errors = sum(r[3] for r in results)
    if not lat:
        raise SystemExit(f"{profile}: no successful pairs; errors: {[r[2] for r in results]}")

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000

    return {"pairs_per_s": pairs / seconds, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "mean_ms": statistics.fmean(lat) * 1000, "errors": errors,
            "server_us_per_request": (cpu1 - cpu0) / max(1, 2 * pairs) * 1e6,
            "client_us_per_request": sum(r[4] for r in results) / max(1, sum(r[5] for r in results)) * 1e6}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=6, help="connections per worker process")
    args = ap.parse_args()
    runs: dict[str, list[dict]] = {"aster-v1": [], "aster-v3": []}
    with tempfile.TemporaryDirectory() as tmp:
        with PaperExchange(Path(tmp) / "v1", symbols=("BTCUSDT",), seed=1) as v1, \
                PaperExchange(Path(tmp) / "v3", symbols=("BTCUSDT",), seed=1, profile="aster-v3") as v3:
            for w in range(args.workers):
                v1.admin("POST", "/keys", key=f"bench-{w}", secret=SECRET)
                addr = v3sign.address_of(V3_KEYS[w])
                v3.admin("POST", "/agents", user=addr, agent=addr)
            for _ in range(args.rounds):
                for profile, px in (("aster-v1", v1), ("aster-v3", v3)):
                    runs[profile].append(run_one(px, profile, args.seconds, args.workers, args.connections))
    print(f"paper place+cancel pairs, aster-v3 vs aster-v1 ({args.workers} client processes x {args.connections} "
          f"keep-alive connections, {args.seconds:.0f} s per run after 1 s warm-up, {args.rounds} alternating rounds)")
    med = {}
    for profile, rs in runs.items():
        m = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        med[profile] = m
        each = ", ".join(f"{r['pairs_per_s']:.0f}" for r in rs)
        print(f"  {profile:9s} pairs/s {m['pairs_per_s']:7.0f} (runs: {each})"
              f"  request p50/p99 {m['p50_ms']:5.2f}/{m['p99_ms']:5.2f} ms  server CPU/request "
              f"{m['server_us_per_request']:4.0f} us  client CPU/request {m['client_us_per_request']:4.0f} us  "
              f"errors {sum(r['errors'] for r in rs)}")
    ratio = med["aster-v3"]["pairs_per_s"] / med["aster-v1"]["pairs_per_s"]
    extra = med["aster-v3"]["server_us_per_request"] - med["aster-v1"]["server_us_per_request"]
    client = med["aster-v3"]["client_us_per_request"] - med["aster-v1"]["client_us_per_request"]
    print(f"  v3 / v1 throughput: {ratio:.2f}x   per request, V3 costs the server {extra:+.0f} us (verification) and "
          f"the client {client:+.0f} us (signing); client and server share the machine's cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
