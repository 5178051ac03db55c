"""Instruction-to-acknowledged-order latency through an executor on the paper exchange (p50, p99): a signed
maker instruction POSTed to `mraster maker executor` (a child process) until its answer carries the venue's
acknowledgement. Baseline in the same run: the same order placed directly on the paper exchange by the
kernel client from this process (what the executor itself does), so the ratio is the executor hop's cost.

    python3 bench/maker_latency.py [N]
"""
from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from decimal import Decimal as D
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx                                                 # noqa: E402

from maker.protocol import Instruction                       # noqa: E402
from maker.testing import MakerRig                           # noqa: E402
from mraster.domain.signed import headers                    # noqa: E402
from mraster.domain.types import OrderRequest, OrderType, Side, TimeInForce   # noqa: E402
from mraster.exchange.client import BinanceCompatibleClient  # noqa: E402
from paper.testing import PaperExchange                      # noqa: E402

SECRET = "bench-secret"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


async def measure(rig: MakerRig, px: PaperExchange, n: int) -> None:
    client = BinanceCompatibleClient(px.url, px.ws_url, "paper-b", "paper-secret")
    http = httpx.AsyncClient(timeout=10.0)
    url = rig.url("B") + "/instruction"

    async def post(ins: Instruction) -> dict:
        body = ins.body()
        resp = await http.post(url, content=body, headers=headers(SECRET, int(time.time() * 1000), body))
        return resp.json()

    await post(Instruction(uuid.uuid4().hex, "heartbeat"))
    bid = D(str((await client.book_ticker("BTCUSDT")).bid_price))
    price = (bid * D("0.9")).quantize(D("0.1"))
    via, direct = [], []
    for i in range(n):
        cid = f"maker:B.mk.b{i}"
        t = time.perf_counter()
        out = await post(Instruction(uuid.uuid4().hex, "maker", cid, "BUY", D("0.001"), price, 30.0))
        via.append(time.perf_counter() - t)
        assert out.get("status") == "NEW", out
        await post(Instruction(uuid.uuid4().hex, "cancel", cid))
        req = OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, f"bench:d{i}.{uuid.uuid4().hex[:6]}",
                           quantity=D("0.001"), price=price, time_in_force=TimeInForce.GTX)
        t = time.perf_counter()
        order = await client.place_order(req)
        direct.append(time.perf_counter() - t)
        await client.cancel_order("BTCUSDT", order_id=order.order_id)
    await http.aclose()
    await client.close()
    print(f"orders: {n} each way")
    print(f"through the executor (signed instruction -> acknowledged order): p50 {pct(via, .5):.2f} ms, "
          f"p99 {pct(via, .99):.2f} ms")
    print(f"baseline, direct to the paper exchange: p50 {pct(direct, .5):.2f} ms, p99 {pct(direct, .99):.2f} ms")
    print(f"ratio p50 {pct(via, .5) / pct(direct, .5):.2f}x, p99 {pct(via, .99) / pct(direct, .99):.2f}x")


def main(n: int = 300) -> None:
    work = Path(tempfile.mkdtemp(prefix="maker_bench_"))
    with PaperExchange(work / "px", symbols=("BTCUSDT",), seed=4) as px:
        rig = MakerRig(work, px.env(), secret=SECRET)
        try:
            rig.start_executor("B")
            asyncio.run(measure(rig, px, n))
        finally:
            rig.stop_all()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
