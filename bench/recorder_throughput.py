"""Figure: the recorder on the paper exchange, 40 symbols x 5 streams (200 streams, 2 connections).

`mraster record` runs as a child process for --seconds (default 60). A raw reference consumer subscribes
to the same 200 streams and timestamps every message it receives: that is what the venue sent. Between
the recorder's first and last status snapshots (taken while it is running), its received message counts
are compared with the reference's counts in the same wall-clock window (ratio 1.000 = no loss; the window
edges make it differ by a few messages). CPU share of one core and resident memory come from psutil.
Run: python3 bench/recorder_throughput.py [--seconds 60] [--symbols 40]"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from bisect import bisect_left, bisect_right
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import websockets  # noqa: E402

from mraster.childproc import clean_environ  # noqa: E402
from mraster.exchange.market_cache import STREAM_KINDS, connection_groups, stream_names_for  # noqa: E402
from paper.testing import PaperExchange  # noqa: E402


class Reference(threading.Thread):
    """Counts every message per stream kind with its arrival time (a plain websockets reader)."""

    def __init__(self, url: str, symbols: list[str]):
        super().__init__(daemon=True)
        self.url, self.symbols = url, symbols
        self.times: dict[str, list[float]] = {k: [] for k in STREAM_KINDS}
        self.stop = False
        self.ready = threading.Event()

    def run(self) -> None:
        asyncio.run(self._main())

    async def _one(self, group: list[str]) -> None:
        async with websockets.connect(f"{self.url}/stream?streams=" + "/".join(stream_names_for(group)),
                                      max_size=None, max_queue=None) as ws:
            self.ready.set()
            while not self.stop:
                try:
                    raw = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    continue
                kind = json.loads(raw)["stream"].split("@", 1)[1]
                self.times[kind].append(time.time())

    async def _main(self) -> None:
        await asyncio.gather(*(self._one(g) for g in connection_groups(self.symbols)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--symbols", type=int, default=40)
    args = ap.parse_args()
    symbols = [f"SYM{i:02d}USDT" for i in range(args.symbols)]
    work = Path(tempfile.mkdtemp(prefix="bench_recorder_"))
    with PaperExchange(work / "px", symbols=symbols, seed=11) as px:
        ref = Reference(px.ws_url, symbols)
        ref.start()
        ref.ready.wait(30)
        env = clean_environ({**px.env(), "PYTHONPATH": str(ROOT), "ASTER_CONFIG_FILE": str(work / "none.json"),
                             "ASTER_DOTENV_FILE": str(work / "none.env"), "ASTER_LOG_DIR": str(work / "jsonl"),
                             "ASTER_RUN_DIR": str(work / "run")})
        logs = work / "logs"
        child = subprocess.Popen([sys.executable, "-m", "recorder", "--symbols", ",".join(symbols),
                                  "--poll-time", str(args.seconds), "--log-dir", str(logs)], env=env,
                                 stdout=open(work / "recorder.out", "w"), stderr=subprocess.STDOUT)
        proc = psutil.Process(child.pid)
        snaps, cpu_mem = [], []
        status = logs / "recorder_status.json"
        while child.poll() is None:
            try:
                s = json.loads(status.read_text())
                if s["state"] == "running" and (not snaps or snaps[-1]["updated_at"] != s["updated_at"]):
                    t = proc.cpu_times()
                    snaps.append(s)
                    cpu_mem.append((time.time(), t.user + t.system, proc.memory_info().rss))
            except (OSError, ValueError, KeyError, psutil.Error):
                pass
            time.sleep(0.25)
        ref.stop = True
        ref.join(5)
    first, last = snaps[1], snaps[-1]          # the first running snapshot may precede the first tick
    t1 = datetime.fromisoformat(first["updated_at"]).timestamp()
    t2 = datetime.fromisoformat(last["updated_at"]).timestamp()
    print(f"recorder: {len(symbols)} symbols x {len(STREAM_KINDS)} streams on {len(connection_groups(symbols))} "
          f"connections, window {t2 - t1:.1f}s of a {args.seconds:g}s run")
    print(f"{'stream':<14}{'sent':>10}{'received':>10}{'ratio':>8}{'per s':>9}")
    total_sent = total_got = 0
    for k in STREAM_KINDS:
        got = last["streams"][k]["messages"] - first["streams"][k]["messages"]
        times = ref.times[k]
        sent = bisect_right(times, t2) - bisect_left(times, t1)
        total_sent, total_got = total_sent + sent, total_got + got
        print(f"{k:<14}{sent:>10}{got:>10}{got / sent if sent else float('nan'):>8.3f}{got / (t2 - t1):>9.1f}")
    print(f"{'all':<14}{total_sent:>10}{total_got:>10}{total_got / total_sent:>8.3f}{total_got / (t2 - t1):>9.1f}")
    (w1, c1, m1), (w2, c2, m2) = cpu_mem[1], cpu_mem[-1]
    print(f"CPU share of one core: {100 * (c2 - c1) / (w2 - w1):.1f} % (target < 30 %)")
    print(f"memory RSS: {m1 / 2**20:.1f} MiB at start, {m2 / 2**20:.1f} MiB at end")
    rows = sum(f["rows_today"] for f in last["files"].values())
    print(f"rows written: {rows} ({rows / max(1, last['seconds_written']):.0f} per second), "
          f"gaps: {last['gaps_today']}, reconnects: {last['reconnects']}")
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
