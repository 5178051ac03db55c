"""`mraster backtest job`: the job directory the dashboard's Backtest page runs (check mode, a failure
written to progress.json with its reason)."""
from __future__ import annotations

import json
import signal

from commands.main import main

GRID = {"k": [1.0, 2.0], "T": 10, "n": 1.0, "V": 30, "tp_bps": 30, "sl_bps": 20, "activation_bps": 15,
        "activation_buffer_bps": 2, "callback_bps": 5, "min_tp_gap_bps": 5, "spread_max": 5, "funding_max": 5}


def job_dir(tmp_path, grid, symbols=("LINKUSDT",), source=None):
    d = tmp_path / "job"
    d.mkdir()
    (d / "job.json").write_text(json.dumps({
        "source": source or {"type": "klines", "name": "binance-um-2026-02"}, "symbols": list(symbols),
        "start_date": "2026-02-01", "end_date": "2026-02-01", "top": 2,
        "grid": {"strategy": "momentum", "symbols": {s: grid for s in symbols}}}))
    return d


def test_check_mode_prints_one_json_line(tmp_path, capsys):
    assert main(["backtest", "job", "--job-dir", str(job_dir(tmp_path, GRID)), "--check"]) == 0
    out = json.loads(capsys.readouterr().out.strip())
    assert out == {"ok": True, "strategy": "momentum", "n_configs": 2, "per_symbol": {"LINKUSDT": 2}}


def test_check_mode_names_the_missing_key(tmp_path, capsys):
    bad = {k: v for k, v in GRID.items() if k != "funding_max"}
    assert main(["backtest", "job", "--job-dir", str(job_dir(tmp_path, bad)), "--check"]) == 1
    out = json.loads(capsys.readouterr().out.strip())
    assert out["ok"] is False and "funding_max" in out["error"] and "LINKUSDT" in out["error"]


def test_a_failing_job_says_why_in_its_progress_file(tmp_path):
    d = job_dir(tmp_path, GRID, symbols=("BTCUSDT",))
    before = signal.getsignal(signal.SIGINT)
    assert main(["backtest", "job", "--job-dir", str(d)]) == 1
    assert signal.getsignal(signal.SIGINT) is before          # the job's handlers do not outlive it
    prog = json.loads((d / "progress.json").read_text())
    assert prog["state"] == "failed" and "BTCUSDT" in prog["message"]
    assert not (d / "ranked.csv").exists()
