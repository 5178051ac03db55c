"""GET /api/state (the page's status snapshot) at 100 concurrent clients on paper state: p50/p99 latency
against the 50 ms target (issue 15).

Real processes: a paper exchange (paper.testing harness), the bot run once on it so the account holds
open positions with their brackets, a journal of 10,000 closed trades, and the dashboard as a real
uvicorn server on 127.0.0.1 whose snapshot asks the venue (positions, orders, fees and funding so far,
cached for ASTER_... 5 s) and merges the trade history. Each client keeps one connection and polls
every --interval seconds (a page polling), then all poll back to back (saturation).
Run: python3 bench/status_api_p99.py [--clients 100] [--requests 20] [--interval 0.5]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _dashboard_common import free_port, pct, poll, raw_get  # noqa: E402

TARGET_MS = 50.0
SERVER = r"""
import sys, uvicorn
from mraster.settings import load_settings
from dashboard.app import create_app
app = create_app(loader=load_settings, commands={}, venue_ttl=float(sys.argv[2]) if len(sys.argv) > 2 else 5.0)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
"""


def trading_env(px, work: Path) -> dict[str, str]:
    return {**px.env(), "ASTER_PAPER_API_KEY": f"bench-status-{os.getpid()}", "ASTER_PAPER_API_SECRET": "s",
            "ASTER_CONFIG_FILE": str(work / "dashboard_config.json"), "ASTER_DOTENV_FILE": str(work / "none.env"),
            "ASTER_STATE_FILE": str(work / "aster_state.json"), "ASTER_JOURNAL_FILE": str(work / "journal.sqlite"),
            "ASTER_LOG_DIR": str(work / "logs"), "ASTER_RUN_DIR": str(work / "run"),
            "ASTER_INCLUDE_SYMBOLS": "BTCUSDT,ETHUSDT,SOLUSDT", "ASTER_INTERVAL": "1m", "ASTER_HTF_INTERVAL": "5m",
            "ASTER_KLINES": "100", "ASTER_RSI_BUY_MIN": "50", "ASTER_RSI_SELL_MAX": "50",
            "ASTER_ALLOW_TREND_ALIGN": "false", "ASTER_MIN_EDGE_R": "-10", "ASTER_FUNDING_FILTER_ENABLED": "false",
            "ASTER_BANDIT_ENABLED": "false", "ASTER_MAX_OPEN_GLOBAL": "2", "ASTER_RUN_ONCE": "true",
            "ASTER_SL_ATR_MULT": "3", "ASTER_TP_ATR_MULT": "6"}


def fill_journal(path: Path, n: int) -> None:
    """n closed trades, as the bot writes them, so the history the snapshot merges is a big one."""
    from mraster.journal import Journal
    from mraster.state.model import Trade
    j = Journal(path)
    rnd = random.Random(7)
    with j.conn:
        for i in range(n):
            entry = 1_700_000_000_000 + i * 600_000
            price = Decimal(str(round(30000 + rnd.uniform(-500, 500), 1)))
            exit_price = price + Decimal(str(round(rnd.uniform(-200, 200), 1)))
            t = Trade(trade_id=f"BTCUSDT.b{i:06d}", symbol="BTCUSDT", side="LONG", status="closed", qty=Decimal(0),
                      entry_qty=Decimal("0.01"), entry_price=price, entry_time_ms=entry, exit_price=exit_price,
                      exit_time_ms=entry + 300_000, exit_reason=rnd.choice(["stop", "take_profit", "fasttp"]),
                      realized_pnl=(exit_price - price) * Decimal("0.01"), fees=Decimal("0.2"), funding=Decimal(0),
                      risk_per_unit=Decimal("150"), r_multiple=float((exit_price - price) / 150))
            j.upsert_trade(t)
    j.close()


async def get_state(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> bytes:
    """The body is read, not parsed (a light client on the same two cores)."""
    status, body = await raw_get(reader, writer, host, "/api/state")
    assert status == 200, (status, body[:200])
    return body


async def check_state(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
    """Each client's first answer is parsed and checked."""
    assert "positions" in json.loads(await get_state(reader, writer, host))


async def run(port: int, clients: int, requests: int, interval: float = 0.0) -> tuple[list[float], float]:
    return await poll(port, clients, requests, interval, get_state, first=check_state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between one client's requests")
    parser.add_argument("--trades", type=int, default=10_000, help="closed trades in the journal")
    args = parser.parse_args()
    os.chdir(ROOT)
    from paper.testing import PaperExchange
    from bot.runtime.loop import Bot
    from mraster.settings import load_settings
    with tempfile.TemporaryDirectory() as tmp, PaperExchange(Path(tmp) / "paper", symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"),
                                                              seed=5) as px:
        work = Path(tmp)
        env = trading_env(px, work)
        (work / "dashboard_config.json").write_text("{}\n")
        fill_journal(work / "journal.sqlite", args.trades)
        asyncio.run(Bot(load_settings(env=env), env=env).run())
        server_env = {k: v for k, v in os.environ.items() if not k.startswith("ASTER_")}
        server_env.update({k: v for k, v in env.items() if k != "ASTER_RUN_ONCE"}, PYTHONPATH=str(ROOT))
        port = free_port()
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), os.environ.get("BENCH_VENUE_TTL", "5")], cwd=work, env=server_env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    snap = httpx.get(f"http://127.0.0.1:{port}/api/state", timeout=5).json()
                    if len(snap["positions"]) == 2 and snap["trades"]["count"] >= args.trades:
                        break
                except (httpx.HTTPError, ValueError, KeyError):
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the dashboard did not show the paper state")
                time.sleep(0.2)
            single, _ = asyncio.run(run(port, 1, 200, 0.0))
            polled, elapsed = asyncio.run(run(port, args.clients, args.requests, args.interval))
            flood, flood_s = asyncio.run(run(port, args.clients, args.requests))
            p50, p99 = pct(polled, 50), pct(polled, 99)
            size = len(json.dumps(snap))
            print(f"GET /api/state ({len(snap['positions'])} positions on the paper venue, {snap['trades']['count']} "
                  f"closed trades, {size / 1024:.0f} KiB), 1 client x 200: p50 {pct(single, 50):.2f} ms, p99 {pct(single, 99):.2f} ms")
            print(f"{args.clients} concurrent clients polling every {args.interval * 1000:.0f} ms "
                  f"({len(polled) / elapsed:.0f} requests/s): p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(polled):.2f} ms")
            print(f"{args.clients} clients back to back (saturation, {len(flood) / flood_s:.0f} requests/s): "
                  f"p50 {pct(flood, 50):.2f} ms, p99 {pct(flood, 99):.2f} ms")
            print(f"ratio p99 / target {TARGET_MS:.0f} ms: {p99 / TARGET_MS:.2f} ({'met' if p99 < TARGET_MS else 'NOT met'}); "
                  f"ratio p99 ({args.clients} polling / 1 client): {p99 / pct(single, 99):.1f}")
        finally:
            server.terminate()
            server.wait(20)


if __name__ == "__main__":
    main()
