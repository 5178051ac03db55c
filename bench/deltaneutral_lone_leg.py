"""How long a leg stays alone after the venue closes its partner (seed 004's operator, issue 20).

A real paper exchange (child process) and the operator running its own loop in this process with real
sleeps. Each round: wait for a pair, force the LONG leg's liquidation (POST /admin/liquidate), time
until the venue shows no position, release the price; the operator (paused meanwhile through its control
file, which blocks opens, never closes) reopens a pair at its next cycle.
Measured at LEG_CHECK_SEC 3 (default) and 0.5. Baseline in the same run: one bare market close of a leg
through the same client (the floor any reaction pays). Prints median and worst per period and their
ratios to the baseline and to the period.
"""
from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deltaneutral.main import build  # noqa: E402
from mraster.domain.types import OrderRequest, OrderType, PositionSide, Side  # noqa: E402
from mraster.settings.loader import load_settings  # noqa: E402
from paper.testing import PaperExchange  # noqa: E402

ROUNDS = 5


def operator_for(px: PaperExchange, work: Path, period: float, key: str):
    work.mkdir(parents=True, exist_ok=True)
    settings = {"CAPITAL_USDT": 1000, "TRADING_PAIRS": "BTCUSDT", "LEG_CHECK_SEC": period, "LOOP_INTERVAL_MIN": 0.02}
    (work / "engines.json").write_text(json.dumps({"instances": [
        {"name": "dn1", "kind": "deltaneutral", "accounts": {"account": "main"}, "settings": settings}]}))
    env = {**px.env(), "ASTER_CONFIG_FILE": str(work / "c.json"), "ASTER_DOTENV_FILE": str(work / ".env"),
           "ASTER_RUN_DIR": str(work / "run"), "ASTER_LOG_DIR": str(work / "logs"),
           "ASTER_JOURNAL_FILE": str(work / "j.sqlite"), "ASTER_API_KEY": key, "ASTER_API_SECRET": "s"}
    op, _ = build(load_settings(env=env, cwd=work), "dn1", env)
    return op


def legs(px: PaperExchange, key: str) -> int:
    acct = next(iter(px.admin("GET", "/state", api_key=key, account=key)["accounts"].values()))
    return sum(1 for p in acct["positions"] if Decimal(p["amount"]) != 0)


async def wait(pred, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if await asyncio.to_thread(pred):
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("condition not reached")


async def measure(px: PaperExchange, tmp: Path, period: float) -> tuple[list[float], list[float]]:
    key = f"bench-{period}"
    op = operator_for(px, tmp / f"p{period}", period, key)
    control = op.files.control
    control.parent.mkdir(parents=True, exist_ok=True)
    control.write_text(json.dumps({"paused": False}))
    task = asyncio.create_task(op.run())
    alone, bare = [], []
    try:
        for _ in range(ROUNDS):
            await wait(lambda: legs(px, key) == 2)
            control.write_text(json.dumps({"paused": True}))      # no new pair until this round is measured
            t0 = time.monotonic()
            await asyncio.to_thread(px.admin, "POST", "/liquidate", api_key=key, account=key, symbol="BTCUSDT",
                                    positionSide="LONG")
            await wait(lambda: legs(px, key) == 0)
            alone.append(time.monotonic() - t0)
            await asyncio.to_thread(px.admin, "DELETE", "/price", symbol="BTCUSDT")
            control.write_text(json.dumps({"paused": False}))
        op.stopping = True
        await task
        # baseline: a bare market close of one leg through the same client
        for i in range(ROUNDS):
            ex = op.long.exchange
            await ex.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.MARKET, f"b{i}o", quantity=Decimal("0.002"),
                                              position_side=PositionSide.LONG))
            t0 = time.monotonic()
            await ex.place_order(OrderRequest("BTCUSDT", Side.SELL, OrderType.MARKET, f"b{i}c", quantity=Decimal("0.002"),
                                              position_side=PositionSide.LONG))
            bare.append(time.monotonic() - t0)
    finally:
        op.stopping = True
        if not task.done():
            task.cancel()
        await op.long.exchange.close()
        op.db.close()
    return alone, bare


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, PaperExchange(Path(tmp) / "px", symbols=("BTCUSDT",), seed=3) as px:
        for period in (3.0, 0.5):
            alone, bare = asyncio.run(measure(px, Path(tmp), period))
            base = statistics.median(bare)
            print(f"LEG_CHECK_SEC={period}: leg alone median {statistics.median(alone):.3f} s, worst {max(alone):.3f} s "
                  f"over {ROUNDS} liquidations; bare close {base * 1000:.1f} ms (median); "
                  f"ratio to the bare close {statistics.median(alone) / base:.0f}x, "
                  f"worst / period {max(alone) / period:.2f}")


if __name__ == "__main__":
    main()
