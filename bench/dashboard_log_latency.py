"""Log latency, bot log line -> browser WebSocket, at 1,000 lines/s; then the same with a client
that stops reading: the writer's rate and the dashboard's answers must not suffer.

Processes: the dashboard (`python -m dashboard`, real CLI), a writer process logging through
mraster.logs (the bot's own JSON-lines file handler) at a fixed rate, and this script as the
browser: one WebSocket client that measures receive time minus the line's write time.
Run: python3 bench/dashboard_log_latency.py [--seconds 10] [--rate 1000]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _dashboard_common import free_port, pct  # noqa: E402
from dashboard.testing import stuck_log_client  # noqa: E402
import websockets

WRITER = r"""
import sys, time
from mraster.logs import get_logger, setup_logging
log_dir, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
setup_logging("bot", "INFO", log_dir, stdout=False)
log = get_logger("bench.writer")
start = time.perf_counter(); n = 0; worst_lag = 0.0
total = int(rate * seconds)
while n < total:
    due = start + n / rate
    now = time.perf_counter()
    if now < due:
        time.sleep(due - now)
    worst_lag = max(worst_lag, time.perf_counter() - due)
    log.info("bench.line", "a log line of the benchmark", n=n, sent_ns=time.time_ns(), symbol="BTCUSDT",
             price="65000.1", qty="0.001")
    n += 1
elapsed = time.perf_counter() - start
print(f"{n} {elapsed:.4f} {worst_lag * 1000:.2f}", flush=True)
"""


def start_dashboard(workdir: Path, port: int) -> subprocess.Popen:
    (workdir / "dashboard_config.json").write_text('{"ASTER_PAPER": false}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASTER_")}
    env.update(ASTER_CONFIG_FILE=str(workdir / "dashboard_config.json"), ASTER_DOTENV_FILE=str(workdir / ".env"))
    proc = subprocess.Popen([sys.executable, "-m", "dashboard", "--port", str(port), "--no-paper-exchange"],
                            cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/processes", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the dashboard did not start")


async def measure(port: int, log_dir: Path, rate: float, seconds: float) -> dict:
    latencies: list[float] = []
    status_ms: list[float] = []
    dropped = 0
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/logs?backlog=0&sources=bot", max_size=None) as ws:
        await ws.recv()  # hello
        writer = await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, str(log_dir), str(rate),
                                                      str(seconds), stdout=asyncio.subprocess.PIPE)
        stop = asyncio.Event()

        async def poll_status() -> None:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    (await client.get("/api/processes")).raise_for_status()
                    status_ms.append((time.perf_counter() - t0) * 1000)
                    await asyncio.sleep(0.05)

        poller = asyncio.create_task(poll_status())
        expected = int(rate * seconds)
        received = 0
        try:
            while received < expected:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                now = time.time_ns()
                dropped += msg.get("dropped", 0)
                for line in msg.get("lines", []):
                    if line.get("event") == "bench.line":
                        latencies.append((now - line["sent_ns"]) / 1e6)
                        received += 1
        finally:
            stop.set()
            await poller
        out, _ = await writer.communicate()
    written, elapsed, worst_lag = out.decode().split()
    return {"received": received, "dropped": dropped, "latency_ms": latencies, "status_ms": status_ms,
            "written": int(written), "write_rate": int(written) / float(elapsed), "writer_worst_lag_ms": float(worst_lag)}


def report(title: str, r: dict) -> None:
    lat, st = r["latency_ms"], r["status_ms"]
    print(f"{title}")
    print(f"  lines written {r['written']} at {r['write_rate']:.0f} lines/s (writer worst lag "
          f"{r['writer_worst_lag_ms']:.1f} ms); received {r['received']}, dropped {r['dropped']}")
    print(f"  line -> WebSocket latency: p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms, "
          f"max {max(lat):.1f} ms")
    print(f"  GET /api/processes meanwhile: p50 {pct(st, 50):.1f} ms, p99 {pct(st, 99):.1f} ms ({len(st)} requests)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port = free_port()
        dash = start_dashboard(workdir, port)
        try:
            base = asyncio.run(measure(port, workdir / "logs", args.rate, args.seconds))
            report(f"1. one reading client, {args.rate:.0f} lines/s for {args.seconds:g} s", base)
            stuck = stuck_log_client(port)
            try:
                slow = asyncio.run(measure(port, workdir / "logs", args.rate, args.seconds))
            finally:
                stats = httpx.get(f"http://127.0.0.1:{port}/api/logs/stats").json()
                stuck.close()
            report("2. the same with a second client that stopped reading", slow)
            worst = max(stats["clients"], key=lambda c: c["pending"] + c["dropped_total"], default={})
            print(f"  the stopped client: {worst.get('pending', 0)} lines waiting (bounded at 2000), "
                  f"{worst.get('dropped_total', 0)} oldest lines dropped; the reading client dropped {slow['dropped']}")
            print(f"ratios (run 2 / run 1): write rate {slow['write_rate'] / base['write_rate']:.3f}, "
                  f"latency p99 {pct(slow['latency_ms'], 99) / pct(base['latency_ms'], 99):.2f}, "
                  f"status p99 {pct(slow['status_ms'], 99) / pct(base['status_ms'], 99):.2f}")
            ok = pct(base["latency_ms"], 99) < 250 and pct(slow["latency_ms"], 99) < 250
            print(f"target p99 < 250 ms at {args.rate:.0f} lines/s: {'met' if ok else 'NOT met'}")
        finally:
            dash.terminate()
            dash.wait(20)


if __name__ == "__main__":
    main()
