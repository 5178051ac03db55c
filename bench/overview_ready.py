"""The Overview page ready (account, engines, equity drawn, open positions listed) in Debian's Chromium
with 10,000 closed trades in the state file and the SQLite journal, a 2,000-point equity curve, 5 open
positions and 5 engine instances. Target: under 1 s from navigation. Baseline in the same run: the same
page on an empty workspace. Median of --runs page loads each (a fresh tab each time).

The dashboard runs as a real process (uvicorn) on a seeded workspace with 5 engine instances in
engines.json (the default scanner and 4 more on paper accounts A and B).

Run: python3 bench/overview_ready.py [--trades 10000] [--runs 7]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
from _dashboard_common import free_port  # noqa: E402

TARGET_MS = 1000.0
SERVER = r"""
import sys, uvicorn
from mraster.settings import load_settings
from dashboard.app import create_app
port = int(sys.argv[1])
app = create_app(loader=load_settings, commands={})
uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
"""
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "LINKUSDT"]


def seed(work: Path, trades: int) -> None:
    from mraster.journal import Journal
    from mraster.state import BotState, StateStore, Trade
    rng = random.Random(7)
    now = int(time.time() * 1000)
    closed = []
    for i in range(trades):
        sym = SYMBOLS[i % len(SYMBOLS)]
        entry = Decimal(str(round(100 + rng.random() * 10, 2)))
        exit_ = entry * Decimal(str(round(1 + (rng.random() - 0.5) * 0.02, 4)))
        t0 = now - (trades - i) * 600_000
        closed.append(Trade(trade_id=f"{sym}.b{i:06d}", symbol=sym, side="LONG" if i % 2 else "SHORT", status="closed",
                            qty=Decimal("1.5"), entry_price=entry, entry_time_ms=t0, exit_price=exit_, exit_time_ms=t0 + 300_000,
                            exit_reason="stop" if i % 3 else "take_profit", realized_pnl=(exit_ - entry) * Decimal("1.5"),
                            fees=Decimal("0.02"), r_multiple=round(rng.uniform(-1, 2), 2)))
    opened = {f"{s}.o": Trade(trade_id=f"{s}.o", symbol=s, side="LONG", status="open", qty=Decimal("2"),
                              entry_price=Decimal("100"), entry_time_ms=now - 60_000, stop_price=Decimal("98"),
                              take_profit_price=Decimal("104")) for s in SYMBOLS[:5]}
    curve = [[now - (2000 - i) * 60_000, 10_000 + 50 * rng.random() + i * 0.1] for i in range(2000)]
    state = BotState(updated_ms=now, heartbeat_ms=now, pid=0, mode="paper", feed="synthetic", cycle=500,
                     equity={"wallet": "10200", "margin_balance": "10210"}, equity_curve=curve, open_trades=opened,
                     closed_trades=closed)
    StateStore(work / "aster_state.json").save(state)
    journal = Journal(work / "aster_journal.sqlite")
    with journal.conn:
        for t in closed:
            journal.upsert_trade(t)
    journal.close()


def start(work: Path, engines: int) -> tuple[subprocess.Popen, str]:
    (work / "dashboard_config.json").write_text('{"ASTER_PAPER": true, "ASTER_PAPER_URL": "http://127.0.0.1:9"}\n')
    port = free_port()
    env = dict(os.environ, ASTER_CONFIG_FILE=str(work / "dashboard_config.json"), ASTER_DOTENV_FILE=str(work / ".env"),
               PYTHONPATH=str(ROOT))
    if engines:
        from mraster.engines import EngineInstance, save_instances
        (work / ".env").write_text("ASTER_ACCOUNTS=A,B\n")
        save_instances(work / "engines.json", [EngineInstance("scanner", "scanner")] + [
            EngineInstance(f"scan{i}", "scanner", (("account", "AB"[i % 2]),)) for i in range(1, engines)])
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=work, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/state", timeout=5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the dashboard did not start")


READY = """([n, equity, engines]) => document.querySelector("main#page[data-page='overview'][data-ready='1']")
  && document.querySelectorAll("#positions-table tbody tr").length >= n
  && (!equity || document.querySelector("#equity-card canvas"))
  && document.querySelectorAll(".engines-table tbody tr").length >= engines"""


def measure(browser, url: str, runs: int, positions: int, equity: bool, engines: int) -> list[float]:
    out = []
    for _ in range(runs + 1):                       # the first load fills the browser cache: not counted
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url + "/#/overview", wait_until="commit")
        page.wait_for_function(READY, arg=[positions, equity, engines], polling=5, timeout=30_000)
        out.append(page.evaluate("() => performance.now()"))
        page.close()
    return out[1:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trades", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        full, empty = Path(tmp) / "full", Path(tmp) / "empty"
        full.mkdir()
        empty.mkdir()
        t = time.perf_counter()
        seed(full, args.trades)
        print(f"seeded {args.trades} trades in {time.perf_counter() - t:.1f} s "
              f"(state file {(full / 'aster_state.json').stat().st_size / 1e6:.1f} MB)")
        servers = [start(full, 5), start(empty, 0)]
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--headless=new", "--no-sandbox", "--disable-gpu"])
                seeded = measure(browser, servers[0][1], args.runs, 5, True, 5)
                baseline = measure(browser, servers[1][1], args.runs, 1, False, 1)
                browser.close()
        finally:
            for proc, _ in servers:
                proc.terminate()
                proc.wait(10)
    s, b = statistics.median(seeded), statistics.median(baseline)
    print(f"overview ready, {args.trades} trades, 5 engines, 5 positions: {s:.0f} ms median of {args.runs} "
          f"(min {min(seeded):.0f}, max {max(seeded):.0f}); {s / TARGET_MS:.2f} of the {TARGET_MS:.0f} ms target")
    print(f"overview ready, empty workspace (baseline):  {b:.0f} ms (min {min(baseline):.0f}, max {max(baseline):.0f}); "
          f"seeded / empty = {s / b:.2f}")
    return 0 if s < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
