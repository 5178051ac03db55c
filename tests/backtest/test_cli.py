"""`mraster backtest build|sweep` end to end on real data (files in tmp_path), and its error paths."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from commands.main import main

from tests.backtest.conftest import DATA

ROOT = Path(__file__).resolve().parents[2]
GRID = {"k": [1.0, 2.0], "T": [10, 30], "n": [1.0, 1.5], "V": 30, "tp_bps": 30, "sl_bps": [20, 40],
        "activation_bps": 15, "activation_buffer_bps": 2, "callback_bps": 5, "min_tp_gap_bps": 5,
        "spread_max": 5, "funding_max": 5}


def build(tmp_path, *extra):
    out = tmp_path / "inputs.csv"
    rc = main(["backtest", "build", "--klines", str(DATA), "--symbols", "LINKUSDT,DOTUSDT", "--start-date",
               "2026-02-01", "--end-date", "2026-02-02", "--out-csv", str(out), "--windows", "10,30", *extra])
    assert rc == 0
    return out


def test_build_then_sweep_with_plots(tmp_path, capsys):
    inputs = build(tmp_path)
    df = pd.read_csv(inputs)
    assert {"rs_vol_10m_bps", "avg_vol_30m", "tw_bid_px", "tw_ask_px", "open_loss_long_bps"} <= set(df.columns)
    assert len(df) == 2 * 2880
    grid = tmp_path / "config_grid.json"
    grid.write_text(json.dumps({"settings": {"train_frac": 0.6}, "symbols": {"LINKUSDT": GRID, "DOTUSDT": GRID}}))
    res = tmp_path / "results"
    rc = main(["backtest", "sweep", "--config-file", str(grid), "--inputs-csv", str(inputs),
               "--out-config-map-csv", str(res / "config_mapping.csv"),
               "--out-ranked-csv", str(res / "ranked_metrics.csv"), "--plot-top", "2", "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "look-ahead check passed" in out
    mapping = pd.read_csv(res / "config_mapping.csv")
    ranked = pd.read_csv(res / "ranked_metrics.csv")
    assert len(mapping) == len(ranked) == 32
    assert (mapping["stop_fill"] == "stop_market").all() and (ranked["stop_fill"] == "stop_market").all()
    for col in ("is_total_pnl", "is_trades", "is_win_rate", "is_profit_factor", "is_expectancy",
                "is_max_drawdown", "is_sharpe", "is_sortino", "is_avg_hold_min", "is_exposure", "is_fees",
                "oos_total_pnl", "oos_rank", "n_configs_tried", "k", "T", "sl_bps"):
        assert col in ranked.columns, col
    assert ranked["rank"].tolist() == list(range(1, 33))
    pngs = sorted((res / "plots").glob("*.png"))
    htmls = sorted((res / "plots").glob("*.html"))
    assert len(pngs) == 2 and len(htmls) == 2 and pngs[0].stat().st_size > 10_000


def test_sweep_errors_name_the_problem(tmp_path, capsys):
    inputs = build(tmp_path)
    grid = tmp_path / "g.json"
    bad = {k: v for k, v in GRID.items() if k != "callback_bps"}
    grid.write_text(json.dumps({"symbols": {"LINKUSDT": GRID, "DOTUSDT": bad}}))
    args = ["backtest", "sweep", "--config-file", str(grid), "--inputs-csv", str(inputs),
            "--out-config-map-csv", str(tmp_path / "m.csv"), "--out-ranked-csv", str(tmp_path / "r.csv")]
    assert main(args) == 1
    assert "symbol DOTUSDT: missing required key 'callback_bps'" in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists()
    pd.read_csv(inputs).drop(columns=["tw_bid_px"]).to_csv(tmp_path / "thin.csv", index=False)
    grid.write_text(json.dumps({"symbols": {"LINKUSDT": GRID}}))
    args[args.index(str(inputs))] = str(tmp_path / "thin.csv")
    assert main(args) == 1
    assert "tw_bid_px" in capsys.readouterr().err


def test_build_errors(tmp_path, capsys):
    rc = main(["backtest", "build", "--klines", str(DATA), "--symbols", "XYZUSDT", "--out-csv",
               str(tmp_path / "x.csv")])
    assert rc == 1 and "no 1m kline file for XYZUSDT" in capsys.readouterr().err
    rc = main(["backtest", "build", "--log-dir", str(tmp_path / "nope"), "--out-csv", str(tmp_path / "x.csv")])
    assert rc == 1 and "does not exist" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    r = subprocess.run([sys.executable, "-m", "backtest", "sweep", "--help"], cwd=ROOT, capture_output=True,
                       text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert r.returncode == 0 and "--scheduler" in r.stdout and "--plot-top" in r.stdout


def test_sweep_fails_loudly_on_a_planted_look_ahead(tmp_path, capsys, monkeypatch):
    """A signal that peeks at the next bar's close (planted by wrapping the preparation step) stops the
    sweep before anything is ranked."""
    import numpy as np

    import backtest.lookahead as la

    real_prepare = la.prepare

    def leaky(strategy, arrays, cfg, cooldown):
        bars, sig, params, kind = real_prepare(strategy, arrays, cfg, cooldown)
        nxt = np.r_[arrays["c"][1:], np.nan]
        peek = np.where(nxt > arrays["c"], 1, 0).astype(np.int8)
        return bars, sig | peek[:, None], params, kind

    monkeypatch.setattr(la, "prepare", leaky)
    inputs = build(tmp_path)
    grid = tmp_path / "g.json"
    grid.write_text(json.dumps({"symbols": {"LINKUSDT": GRID}}))
    rc = main(["backtest", "sweep", "--config-file", str(grid), "--inputs-csv", str(inputs),
               "--out-config-map-csv", str(tmp_path / "m.csv"), "--out-ranked-csv", str(tmp_path / "r.csv"),
               "--no-progress"])
    assert rc == 1
    assert "LOOK-AHEAD CHECK FAILED" in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists()


def test_ctrl_c_keeps_the_finished_chunks(tmp_path):
    """A real SIGINT to a running sweep (child process): exit 130, the finished chunks in the ranked CSV,
    marked incomplete."""
    import re
    import signal
    import threading
    import time

    inputs = build(tmp_path)
    big = {**GRID, "k": [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0], "tp_bps": [20, 30, 40, 50, 60, 80, 100, 120],
           "sl_bps": [10, 20, 30, 40, 50, 60, 80, 100], "callback_bps": [3, 5, 8, 12]}
    grid = tmp_path / "g.json"
    grid.write_text(json.dumps({"settings": {"chunk_size": 2}, "symbols": {"LINKUSDT": big, "DOTUSDT": big}}))
    ranked = tmp_path / "r.csv"
    proc = subprocess.Popen([sys.executable, "-m", "backtest", "sweep", "--config-file", str(grid), "--inputs-csv",
                             str(inputs), "--out-config-map-csv", str(tmp_path / "m.csv"), "--out-ranked-csv",
                             str(ranked)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    seen = bytearray()
    threading.Thread(target=lambda: [seen.extend(b) for b in iter(lambda: proc.stderr.read(1), b"")],
                     daemon=True).start()
    deadline = time.monotonic() + 90
    done = re.compile(rb"\| *[1-9][0-9]*/[0-9]+ \[")          # tqdm: some configurations finished
    while not done.search(bytes(seen)) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130, bytes(seen[-3000:]).decode(errors="replace")
    df = pd.read_csv(ranked)
    total = 2 * 8 * 2 * 2 * 8 * 8 * 4
    assert 0 < len(df) < total and not df["complete"].any() and (df["n_configs_tried"] == total).all()
    assert b"interrupted" in bytes(seen)


def test_build_from_recorder_logs_then_sweep(tmp_path):
    """The recorder path end to end: seed-002 CSV families -> features -> sweep with trades."""
    from tests.backtest.test_features import recorder_rows, write_logs
    k, b, m = recorder_rows(seed=11, minutes=240)
    write_logs(tmp_path / "logs", k, b, m)
    inputs = tmp_path / "inputs.csv"
    assert main(["backtest", "build", "--log_dir", str(tmp_path / "logs"), "--out_csv", str(inputs),
                 "--windows", "5,10"]) == 0
    small = {**GRID, "k": [0.2, 0.5], "T": [5, 10], "n": [0.5, 1.0], "V": 10, "spread_max": 10, "funding_max": 10,
             "tp_bps": 8, "sl_bps": 8, "activation_bps": 4, "callback_bps": 2}
    grid = tmp_path / "g.json"
    grid.write_text(json.dumps({"settings": {"taker_fee_bps": 0.5, "cooldown_min": 0},
                                "symbols": {"AAAUSDT": small, "BBBUSDT": small}}))
    rc = main(["backtest", "sweep", "--config_file", str(grid), "--inputs_csv", str(inputs),
               "--out_config_map_csv", str(tmp_path / "m.csv"), "--out_ranked_csv", str(tmp_path / "r.csv"),
               "--no-progress"])
    assert rc == 0
    ranked = pd.read_csv(tmp_path / "r.csv")
    assert len(ranked) == 16 and ranked["is_trades"].sum() > 0 and ranked["complete"].all()


def test_build_from_logs_reads_complete_lines_only(tmp_path):
    """A recorder killed mid-write leaves a torn last line (no newline); a file may have only its header.
    `build --log-dir` gives the same features as from the complete rows alone (the torn rows are not read)."""
    from tests.backtest.test_features import recorder_rows, write_logs
    k, b, m = recorder_rows(seed=5, minutes=30)
    clean, torn = tmp_path / "clean", tmp_path / "torn"
    for d in (clean, torn):
        write_logs(d, k, b, m.iloc[:0])                          # markPrice: the header only
    last_k = k[k.symbol == "AAAUSDT"].iloc[-1]
    # the newest kline snapshot of the last bar, cut inside k1_close: read, it would be the bar's close
    row = k.iloc[[0]].assign(ts_unix_ms=int(last_k.ts_unix_ms) + 1, symbol="AAAUSDT",
                             k1_start_ms=int(last_k.k1_start_ms), k1_close=123.456789)
    line = row.to_csv(header=False, index=False)
    with open(torn / "kline_20260201.csv", "a") as f:
        f.write(line[:line.index("123.45") + 4])
    with open(torn / "bookTicker_20260201.csv", "a") as f:
        f.write(f"{int(last_k.ts_unix_ms) + 2},AAAUSDT,1")
    out = {}
    for d in (clean, torn):
        out[d.name] = tmp_path / f"{d.name}.csv"
        assert main(["backtest", "build", "--log-dir", str(d), "--out-csv", str(out[d.name]),
                     "--windows", "5"]) == 0
    got, want = pd.read_csv(out["torn"]), pd.read_csv(out["clean"])
    assert len(want) == 60 and (want["funding_source"] == "none").all()
    pd.testing.assert_frame_equal(got, want)
