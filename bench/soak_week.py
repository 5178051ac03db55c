"""Soak: bot, guard and dashboard on the paper exchange for an accelerated week; memory and file sizes
at start and end (issue 12 item 14: resources stay bounded over weeks).

Everything real, in a temporary workspace: `mraster dashboard` (child process, loopback, port 0 style
free port) starts the paper exchange, the guard and the bot through its own API (`POST /api/all/start`),
exactly as a user's Start button does. The paper market runs at --speed (default: one week of market
time in --minutes of wall time), the bot scans back to back (ASTER_LOOP_SLEEP 0), the guard checks every
0.5 s, and this script reads `/api/state` every second as an open page would.

    python3 bench/soak_week.py [--minutes 4] [--speed auto] [--keep DIR]

Figures, per process (bot, guard, dashboard, paper exchange): resident memory (VmRSS) after a one-minute
settling period ("start") and at the end, and the growth per simulated day over that span; per file
(logs, child .out files, state, journal, paper database, guard status, latch): size at settle and at end.
Counters: bot cycles, guard checks, paper orders. A process whose memory grows linearly with market time
would show here as growth per day well above noise; bounded maps show a flat line after warm-up.
The machine may be shared: memory figures are stable, timings are not reported.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mraster.childproc import clean_environ  # noqa: E402

WEEK_S = 7 * 86_400
SETTLE_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def pids(run_dir: Path) -> dict[str, int]:
    out = {}
    for f in run_dir.glob("*.pid"):
        try:
            out[f.stem] = int(json.loads(f.read_text())["pid"])
        except (OSError, ValueError, KeyError):
            continue
    return out


def file_sizes(ws: Path) -> dict[str, int]:
    out = {}
    for f in sorted(ws.rglob("*")):
        if f.is_file() and not f.name.startswith(".") and f.suffix != ".pid":
            out[str(f.relative_to(ws))] = f.stat().st_size
    return out


def sample(ws: Path, dashboard_pid: int) -> dict[str, Any]:
    procs = {"dashboard": dashboard_pid, **pids(ws / "run")}
    return {"time": time.monotonic(), "rss": {name: rss_kib(pid) for name, pid in procs.items()},
            "files": file_sizes(ws)}


def counters(ws: Path, client: httpx.Client) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        state = json.loads((ws / "aster_state.json").read_text())
        out["bot cycles"] = state.get("cycle")
        out["bot trades closed"] = len(state.get("closed_trades", []))
    except (OSError, ValueError):
        pass
    try:
        out["guard checks"] = json.loads((ws / "run" / "guard_status.json").read_text()).get("checks_total")
    except (OSError, ValueError):
        pass
    try:
        out["dashboard state reads"] = client.get("/api/state").status_code == 200
    except httpx.HTTPError:
        pass
    return out


def kib(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024:.1f} MiB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=4.0, help="wall time of the whole run (default 4)")
    ap.add_argument("--speed", type=float, default=0.0, help="paper market speed (default: a week in --minutes)")
    ap.add_argument("--keep", help="keep the workspace in this directory (default: a temporary one, removed)")
    args = ap.parse_args()
    speed = args.speed or WEEK_S / (args.minutes * 60.0)
    ws = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mraster-soak-"))
    ws.mkdir(parents=True, exist_ok=True)
    dash_port, paper_port = free_port(), free_port()
    (ws / "dashboard_config.json").write_text(json.dumps({
        "ASTER_PAPER": True, "ASTER_PAPER_FEED": "synthetic", "ASTER_PAPER_SPEED": speed,
        "ASTER_PAPER_URL": f"http://127.0.0.1:{paper_port}", "ASTER_LOOP_SLEEP": 0, "ASTER_GUARD_INTERVAL": 0.5,
        "ASTER_UNIVERSE_MAX": 10, "ASTER_DASHBOARD_PORT": dash_port, "ASTER_AUTO_RESTART": True,
        "ASTER_RECV_WINDOW": 60000,      # the venue clock runs --speed times faster: the widest window
    }, indent=2))
    env = clean_environ({"ASTER_CONFIG_FILE": str(ws / "dashboard_config.json"),
                         "ASTER_DOTENV_FILE": str(ws / ".env"), "PYTHONPATH": str(ROOT),
                         "PYTHONUNBUFFERED": "1"})
    out = open(ws / "dashboard.out", "ab")
    dash = subprocess.Popen([sys.executable, "-m", "commands.main", "dashboard"], cwd=ws, env=env, stdout=out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    out.close()
    client = httpx.Client(base_url=f"http://127.0.0.1:{dash_port}", timeout=30)
    started = time.monotonic()
    end = started + args.minutes * 60.0
    print(f"workspace {ws}; paper speed {speed:.0f}x ({args.minutes:g} min wall = "
          f"{args.minutes * 60 * speed / 86400:.1f} market days)")
    try:
        while True:
            try:
                if client.get("/api/processes").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if dash.poll() is not None or time.monotonic() - started > 60:
                raise SystemExit(f"the dashboard did not start; see {ws / 'dashboard.out'}")
            time.sleep(0.2)
        started_resp = client.post("/api/all/start").json()
        print(f"started: {started_resp}")
        first = None
        while time.monotonic() < end:
            client.get("/api/state")                     # as an open page would
            if first is None and time.monotonic() - started >= min(SETTLE_S, args.minutes * 60 / 4):
                first = sample(ws, dash.pid)
                first["counters"] = counters(ws, client)
            time.sleep(1.0)
        last = sample(ws, dash.pid)
        last["counters"] = counters(ws, client)
        report(first or last, last, speed)
    finally:
        try:
            client.post("/api/bot/stop")
            client.post("/api/guard/stop")
        except httpx.HTTPError:
            pass
        client.close()
        for name, pid in pids(ws / "run").items():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        dash.send_signal(signal.SIGTERM)
        try:
            dash.wait(20)
        except subprocess.TimeoutExpired:
            dash.kill()
        if not args.keep:
            shutil.rmtree(ws, ignore_errors=True)
    return 0


def report(first: dict[str, Any], last: dict[str, Any], speed: float) -> None:
    market_days = (last["time"] - first["time"]) * speed / 86400
    print(f"\nover {market_days:.2f} market days after settling ({last['time'] - first['time']:.0f} s wall)")
    print(f"{'process':<12} {'RSS start':>11} {'RSS end':>11} {'growth/day':>12}")
    for name in sorted(set(first["rss"]) | set(last["rss"])):
        a, b = first["rss"].get(name), last["rss"].get(name)
        per_day = f"{(b - a) / 1024 / market_days:+.2f} MiB" if a is not None and b is not None and market_days else "-"
        print(f"{name:<12} {kib(a):>11} {kib(b):>11} {per_day:>12}")
    print(f"\n{'file':<40} {'start':>12} {'end':>12}")
    for name in sorted(set(first["files"]) | set(last["files"])):
        a, b = first["files"].get(name), last["files"].get(name)
        print(f"{name:<40} {'-' if a is None else f'{a:,}':>12} {'-' if b is None else f'{b:,}':>12}")
    print(f"\ncounters at settle: {first.get('counters')}\ncounters at end:    {last.get('counters')}")


if __name__ == "__main__":
    raise SystemExit(main())
