"""GET /api/bot/status with 100 concurrent clients: p50 and p99 latency (target p99 < 50 ms).

The dashboard runs as a real process (`python -m dashboard`) supervising a running bot stand-in
(a sleeping child, so the status has a pid and an uptime); each client holds its own connection
and sends requests back to back. Run: python3 bench/dashboard_status.py [--clients 100] [--requests 30]
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
from _dashboard_common import free_port, pct, poll, raw_get  # noqa: E402

SERVER = r"""
import sys, uvicorn
from mraster.settings import load_settings
from dashboard.app import create_app
port, sleeper = int(sys.argv[1]), sys.argv[2]
app = create_app(loader=load_settings, commands={"bot": (sys.executable, sleeper), "guard": (sys.executable, sleeper)})
uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
"""


async def get_status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> dict:
    status, raw = await raw_get(reader, writer, host, "/api/bot/status")
    body = json.loads(raw)
    assert status == 200 and body["state"] == "running", (status, body)
    return body


async def run(port: int, clients: int, requests: int, interval: float = 0.0) -> tuple[list[float], float]:
    return await poll(port, clients, requests, interval, get_status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--interval", type=float, default=0.5,
                        help="seconds between one client's requests (a page polling twice a second)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "dashboard_config.json").write_text('{"ASTER_PAPER": true, "ASTER_PAPER_URL": "http://127.0.0.1:9"}\n')
        (work / "sleeper.py").write_text("import time\nwhile True: time.sleep(1)\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASTER_")}
        env.update(ASTER_CONFIG_FILE=str(work / "dashboard_config.json"), ASTER_DOTENV_FILE=str(work / ".env"))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(work / "sleeper.py")], cwd=work,
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.post(url + "/api/bot/restart", timeout=2).status_code == 200:   # paper mode: no credentials check
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the dashboard did not start")
                time.sleep(0.1)
            single, _ = asyncio.run(run(port, 1, 300))
            polled, elapsed = asyncio.run(run(port, args.clients, args.requests, args.interval))
            flood, flood_s = asyncio.run(run(port, args.clients, args.requests))
            print(f"GET /api/bot/status, 1 client x 300 requests: p50 {pct(single, 50):.2f} ms, "
                  f"p99 {pct(single, 99):.2f} ms")
            print(f"{args.clients} concurrent clients, each polling every {args.interval * 1000:.0f} ms "
                  f"({len(polled) / elapsed:.0f} requests/s): p50 {pct(polled, 50):.2f} ms, "
                  f"p99 {pct(polled, 99):.2f} ms, max {max(polled):.2f} ms")
            print(f"{args.clients} concurrent clients back to back (saturation, {len(flood) / flood_s:.0f} requests/s): "
                  f"p50 {pct(flood, 50):.2f} ms, p99 {pct(flood, 99):.2f} ms")
            print(f"ratio p99 ({args.clients} polling clients / 1 client): {pct(polled, 99) / pct(single, 99):.1f}")
            print(f"target p99 < 50 ms with {args.clients} polling clients: "
                  f"{'met' if pct(polled, 99) < 50 else 'NOT met'}")
            httpx.post(url + "/api/bot/stop", timeout=30)
        finally:
            server.terminate()
            server.wait(20)


if __name__ == "__main__":
    main()
