"""Figure: signing cost per request, HMAC (aster-v1 / binance-usdm) against the Aster V3 API-wallet signature
(aster-v3: nonce from the file-locked high-water mark + EIP-712 digest + secp256k1), in the same run, through
the same `Auth.prepare` the client calls for every attempt. Also the server side: V3 verification (recover the
signer) per request. Run: python3 bench/signing_cost.py"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_keys.backends import get_default_backend_class  # noqa: E402

from mraster.exchange import v3sign  # noqa: E402
from mraster.exchange.auth import HmacAuth, V3Auth, V3Credentials  # noqa: E402

N = 3000
ROUNDS = 5
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
USER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
# a typical order placement's parameters
PARAMS = [("symbol", "BTCUSDT"), ("side", "SELL"), ("type", "STOP_MARKET"), ("stopPrice", "58000.1"),
          ("closePosition", "true"), ("workingType", "MARK_PRICE"), ("newClientOrderId", "mr-BTCUSDT.lq3k2x1a-SL"),
          ("newOrderRespType", "RESULT")]


def per_call_us(fn, n: int = N) -> float:
    """Median over ROUNDS of the mean cost of one call, in microseconds."""
    rounds = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(rounds)


def main() -> None:
    hmac_auth = HmacAuth("bench-key", "bench-secret", recv_window_ms=5000)
    with tempfile.TemporaryDirectory() as run_dir:
        v3_shared = V3Auth(V3Credentials(USER, "", KEY), run_dir=run_dir)
        v3_memory = V3Auth(V3Credentials(USER, "", KEY))
        now = int(time.time() * 1000)
        hmac_us = per_call_us(lambda: hmac_auth.prepare(PARAMS, signed=True, api_key=True, now_ms=now, endpoint="x"))
        v3_us = per_call_us(lambda: v3_shared.prepare(PARAMS, signed=True, api_key=True, now_ms=now, endpoint="x"))
        v3_mem_us = per_call_us(lambda: v3_memory.prepare(PARAMS, signed=True, api_key=True, now_ms=now,
                                                          endpoint="x"))
        nonce_us = per_call_us(lambda: v3_shared._source().next())
        raw = v3_shared.prepare(PARAMS, signed=True, api_key=True, now_ms=now, endpoint="x")[0]
        verify_us = per_call_us(lambda: v3sign.verify_payload(raw, 1666), n=N // 3)
    print(f"secp256k1 backend: {str(get_default_backend_class()).rsplit('.', 1)[-1]}")
    print(f"HMAC-SHA256 signed query (timestamp, recvWindow, signature):   {hmac_us:8.1f} us per request")
    print(f"V3 agent signature, nonce via the run-dir high-water file:      {v3_us:8.1f} us per request")
    print(f"V3 agent signature, in-memory nonce (no run dir):               {v3_mem_us:8.1f} us per request")
    print(f"  of which the file-locked nonce:                               {nonce_us:8.1f} us")
    print(f"V3 server-side verification (recover signer from raw string):   {verify_us:8.1f} us per request")
    print(f"ratio V3 / HMAC (same run):                                     {v3_us / hmac_us:8.1f}x")


if __name__ == "__main__":
    main()
