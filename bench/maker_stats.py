"""Statistics over 100,000 fills (target: under 1 s): `maker.stats.compute` joining the venue's trades with
the executor's journal. Baseline in the same run: the bare sum of price x qty over the same trades.

    python3 bench/maker_stats.py [N]
"""
from __future__ import annotations

import random
import sys
import time
from decimal import Decimal as D
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from maker.stats import compute                      # noqa: E402
from mraster.domain.types import Side, UserTrade     # noqa: E402


def main(n: int = 100_000) -> None:
    rng = random.Random(5)
    trades, records = [], []
    for i in range(n):
        oid = 1_000_000 + i // 2                     # two fills per order on average
        maker = rng.random() < 0.85
        price = D(str(round(rng.uniform(90_000, 110_000), 1)))
        qty = D("0.001")
        trades.append(UserTrade("BTCUSDT", i, oid, Side.BUY if rng.random() < 0.5 else Side.SELL, price, qty,
                                price * qty, (price * qty * D("0.0001")).quantize(D("0.00000001")), "USDT",
                                D(str(round(rng.uniform(-1, 1), 4))), maker, 1_000 + i))
        if i % 2 == 0:
            cid = f"maker:B.{'mk' if maker else 'tk'}.{i}"
            records.append({"t": 1_000 + i, "ev": "placed", "kind": "maker" if maker else "taker", "cid": cid})
            records.append({"t": 1_001 + i, "ev": "ack", "cid": cid, "order_id": oid})
    best, base = float("inf"), float("inf")
    for _ in range(3):
        t = time.perf_counter()
        s = compute("B", 24, trades, [], records, 0)
        best = min(best, time.perf_counter() - t)
        t = time.perf_counter()
        total = sum((tr.price * tr.qty for tr in trades), D(0))
        base = min(base, time.perf_counter() - t)
    assert total == s.volume
    print(f"fills: {n}, orders: {len(records) // 2}, maker fill rate {s.fill_rate:.3f}, volume ${s.volume:,.0f}")
    print(f"compute: {best:.3f} s (best of 3); baseline sum(price*qty): {base:.3f} s; ratio {best / base:.1f}x")
    print("target < 1 s:", "met" if best < 1.0 else "MISSED")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
