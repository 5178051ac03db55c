"""End to end on the paper exchange (a real child process on loopback) with 3 symbols: `mraster record`
as a child process writes seed 002's five families, one row per symbol per second; the UTC roll driven by
the paper clock (admin endpoint); SIGKILL mid-run, restart, `data load`: one header per file, no torn row,
the downtime in the gaps file, the same counts when loaded twice; the paper venue's stream rates."""
from __future__ import annotations

import asyncio
import csv
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import websockets

from mraster.childproc import clean_environ
from mraster.marketdata.schema import AGG_TRADE_1S, TABLES
from paper.testing import PaperExchange
from recorder.gaps import GAPS
from recorder.store import Store

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("px"), symbols=SYMBOLS, seed=5) as ex:
        yield ex


def child_env(px: PaperExchange, tmp: Path) -> dict[str, str]:
    return clean_environ({**px.env(), "PYTHONPATH": str(ROOT), "ASTER_CONFIG_FILE": str(tmp / "none.json"),
                          "ASTER_DOTENV_FILE": str(tmp / "none.env"), "ASTER_LOG_DIR": str(tmp / "jsonl"),
                          "ASTER_RUN_DIR": str(tmp / "run"), "PYTHONUNBUFFERED": "1"})


def record(px, tmp, log_dir, *extra) -> subprocess.Popen:
    out = open(tmp / f"recorder-{time.monotonic_ns()}.out", "w")
    return subprocess.Popen([sys.executable, "-m", "recorder", "--symbols", ",".join(SYMBOLS), "--log-dir",
                             str(log_dir), *extra], env=child_env(px, tmp), stdout=out, stderr=subprocess.STDOUT,
                            cwd=tmp)


def rows_of(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_five_families_with_seed_columns_and_one_row_per_symbol_per_second(px, tmp_path):
    logs = tmp_path / "logs"
    proc = record(px, tmp_path, logs, "--poll-time", "5")
    assert proc.wait(timeout=60) == 0
    status = json.loads((logs / "recorder_status.json").read_text())
    assert status["state"] == "stopped" and status["reconnects"] == 0
    day = status["day"]
    for t in TABLES:
        rows = rows_of(logs / t.csv_name(day))
        assert rows[0] == t.names
        assert all(len(r) == len(t.names) for r in rows)
        assert status["files"][t.family]["rows_today"] == len(rows) - 1
        per = {s: [int(r[0]) for r in rows[1:] if r[2] == s] for s in SYMBOLS}
        for s, ts in per.items():
            assert len(ts) >= 4, (t.name, s, ts)
            assert all(b - a == 1000 for a, b in zip(ts, ts[1:])), (t.name, s, ts)   # every second, once
    assert rows_of(logs / GAPS.csv_name(day)) == [GAPS.names]                       # nothing missed
    # the paper venue's rates as the recorder received them (about 5 s of streaming)
    streams = status["streams"]
    assert streams["depth5@100ms"]["messages"] >= 5 * 3 * 3              # ~10/s per symbol
    assert streams["markPrice@1s"]["messages"] <= 3 * 8
    # --delete-existing starts today's files afresh (and records no downtime: there is no earlier row)
    last = max(int(r[0]) for r in rows_of(logs / AGG_TRADE_1S.csv_name(day))[1:])
    proc = record(px, tmp_path, logs, "--poll-time", "2", "--delete-existing")
    assert proc.wait(timeout=60) == 0
    rows = rows_of(logs / AGG_TRADE_1S.csv_name(day))
    assert rows[0] == AGG_TRADE_1S.names and min(int(r[0]) for r in rows[1:]) > last
    assert [g for g in rows_of(logs / GAPS.csv_name(day))[1:] if g[3] == "recorder_down"] == []


def test_symbols_the_venue_does_not_list_are_refused(px, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "recorder", "--symbols", "BTCUSDT,NOPEUSDT", "--log-dir",
                           str(tmp_path / "logs")], env=child_env(px, tmp_path), capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and "does not list NOPEUSDT" in proc.stderr
    assert list((tmp_path / "logs").glob("*.csv")) == []


def test_one_recorder_per_directory_and_sigterm_stops_cleanly(px, tmp_path):
    logs = tmp_path / "logs"
    first = record(px, tmp_path, logs)
    status = logs / "recorder_status.json"
    wait_for(lambda: status.exists() and json.loads(status.read_text())["state"] == "running", 40, "running")
    second = record(px, tmp_path, logs, "--poll-time", "2")
    assert second.wait(timeout=60) == 2
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0
    final = json.loads(status.read_text())
    assert final["state"] == "stopped" and final["seconds_written"] >= 1
    assert all(f["rows_today"] >= 3 for f in final["files"].values())


async def _count(url: str, seconds: float) -> Counter:
    names = "/".join(f"{s.lower()}@{k}" for s in SYMBOLS
                     for k in ("kline_1m", "bookTicker", "markPrice@1s", "aggTrade", "depth5@100ms"))
    counts: Counter = Counter()
    async with websockets.connect(f"{url}/stream?streams={names}") as ws:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
            counts[msg["stream"].split("@", 1)[1]] += 1
    return counts


def test_paper_venue_serves_the_five_streams_at_venue_rates(px):
    counts = asyncio.run(_count(px.ws_url, 3.0))
    per_symbol_s = {k: v / 3 / len(SYMBOLS) for k, v in counts.items()}
    assert 7 <= per_symbol_s["depth5@100ms"] <= 11          # every 100 ms (a market step is >= 100 ms)
    assert 0.6 <= per_symbol_s["markPrice@1s"] <= 1.4        # once per venue second
    assert per_symbol_s["kline_1m"] >= 2                      # every 250 ms while the bar moves
    assert per_symbol_s["bookTicker"] > 0 and per_symbol_s["aggTrade"] > 0


def test_sigkill_restart_and_load(px, tmp_path):
    logs, store_dir = tmp_path / "logs", tmp_path / "store"
    proc = record(px, tmp_path, logs)
    status_file = logs / "recorder_status.json"

    def written() -> int:
        try:
            return json.loads(status_file.read_text())["seconds_written"]
        except (OSError, ValueError, KeyError):
            return 0

    wait_for(lambda: written() >= 3, 40, "rows from the first run")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    day = json.loads(status_file.read_text())["day"]
    last = max(int(r[0]) for r in rows_of(logs / AGG_TRADE_1S.csv_name(day))[1:] if r and r[0].isdigit())
    # a restart within a second would leave no hole to record: let the venue clock pass 3 s first
    wait_for(lambda: httpx.get(px.url + "/fapi/v1/time").json()["serverTime"] > last + 3000, 10, "venue time")
    proc = record(px, tmp_path, logs, "--poll-time", "3")
    assert proc.wait(timeout=60) == 0
    for t in TABLES:
        data = (logs / t.csv_name(day)).read_text()
        assert data.count(",".join(t.names) + "\n") == 1 and data.endswith("\n")
    gaps = rows_of(logs / GAPS.csv_name(day))[1:]
    down = [g for g in gaps if g[3] == "recorder_down"]
    assert sorted(g[2] for g in down) == sorted(SYMBOLS) and all(float(g[7]) >= 1 for g in down)
    env = clean_environ({"PYTHONPATH": str(ROOT)})
    load = [sys.executable, "-m", "commands.main", "data", "load", "--date", day, "--log-dir", str(logs),
            "--store", str(store_dir)]
    first = subprocess.run(load, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    store = Store(store_dir)
    counts = {t.name: store.query(f"SELECT count(*) FROM {t.name}")[1][0][0] for t in TABLES}
    assert subprocess.run(load, capture_output=True, text=True, env=env, timeout=120).returncode == 0
    assert {t.name: store.query(f"SELECT count(*) FROM {t.name}")[1][0][0] for t in TABLES} == counts
    for t in TABLES:
        assert counts[t.name] == len(rows_of(logs / t.csv_name(day))) - 1
        _, dup = store.query(f"SELECT symbol, ts_unix_ms FROM {t.name} GROUP BY ALL HAVING count(*) > 1")
        assert dup == []
    _, g = store.query("SELECT symbol, kind FROM gaps WHERE kind = 'recorder_down' ORDER BY symbol")
    assert [r[0] for r in g] == sorted(SYMBOLS)


def test_utc_roll_at_midnight_on_the_paper_clock(tmp_path):
    with PaperExchange(tmp_path / "px", symbols=SYMBOLS, seed=6) as ex:
        venue_ms = httpx.get(ex.url + "/fapi/v1/time").json()["serverTime"]
        midnight = (venue_ms // 86_400_000 + 1) * 86_400_000
        ex.admin("POST", "/clock", advance_ms=midnight - venue_ms - 6000)
        logs = tmp_path / "logs"
        proc = record(ex, tmp_path, logs, "--poll-time", "9")
        assert proc.wait(timeout=90) == 0
    days = sorted({p.stem.rsplit("_", 1)[1] for p in logs.glob("kline_*.csv")})
    assert len(days) == 2
    for t in TABLES:
        for day in days:
            rows = rows_of(logs / t.csv_name(day))
            assert rows[0] == t.names and sum(1 for r in rows if r == t.names) == 1
            iso = f"{day[:4]}-{day[4:6]}-{day[6:]}"
            assert len(rows) > 1 and {r[t.names.index("date")] for r in rows[1:]} == {iso}
    last = [int(r[0]) for r in rows_of(logs / AGG_TRADE_1S.csv_name(days[0]))[1:]]
    first = [int(r[0]) for r in rows_of(logs / AGG_TRADE_1S.csv_name(days[1]))[1:]]
    assert max(last) < midnight <= min(first)
