"""`mraster ops weekly-backtest` on the shipped real data (Binance USD-M 1m klines, February 2026): the
features are built, the grid swept, the ranked results published whole; the backtest report lists the
top configurations per symbol straight from them; a failed run leaves the previous results alone."""
from __future__ import annotations

import csv
import json
from datetime import date, datetime, timezone

import pytest

from ops.jobs import backtest_window
from ops.steps import StepFailed

GRID = {"strategy": "momentum",
        "settings": {"taker_fee_bps": 5.0, "extra_slippage_bps": 0.5, "notional_usd": 1000, "cooldown_min": 5,
                     "stop_exit_price": "stop_market", "train_frac": 0.7, "chunk_size": 64},
        "default_grid": {"k": [1.5, 2.0, 3.0], "T": [30], "n": [1.5, 2.0], "V": [30], "tp_bps": [30, 60],
                         "sl_bps": [20], "activation_bps": [15], "activation_buffer_bps": [2], "callback_bps": [5],
                         "min_tp_gap_bps": [5], "spread_max": [5], "funding_max": [5]},
        "symbols": {"LINKUSDT": {}, "DOTUSDT": {}}}


def test_default_window_is_the_28_days_ending_yesterday():
    sunday = datetime(2026, 12, 6, 0, 20, tzinfo=timezone.utc)
    assert backtest_window("", "", sunday) == (date(2026, 11, 8), date(2026, 12, 5))   # Sunday .. Saturday
    assert backtest_window("2026-02-01", "2026-02-14", sunday) == (date(2026, 2, 1), date(2026, 2, 14))
    with pytest.raises(StepFailed, match="after end"):
        backtest_window("2026-02-15", "2026-02-14", sunday)


@pytest.mark.slow
def test_weekly_backtest_on_shipped_data_then_its_report(work):
    (work.root / "grid.json").write_text(json.dumps(GRID))
    work.config({"ASTER_PAPER": True, "ASTER_OPS_BACKTEST_SOURCE": "klines:binance-um-2026-02",
                 "ASTER_OPS_BACKTEST_GRID": "grid.json", "ASTER_BACKTEST_START_DATE": "2026-02-01",
                 "ASTER_BACKTEST_END_DATE": "2026-02-14"})
    res = work.mraster("ops", "weekly-backtest")
    assert res.returncode == 0, res.stdout + res.stderr
    results = work.root / "results"
    assert sorted(p.name for p in results.iterdir()) == ["backtest_inputs.csv", "config_mapping.csv", "last_run.json",
                                                         "ranked_metrics.csv"]            # no scratch left
    meta = json.loads((results / "last_run.json").read_text())
    assert (meta["start_date"], meta["end_date"], meta["source"]) == ("2026-02-01", "2026-02-14",
                                                                      "klines:binance-um-2026-02")
    with (results / "ranked_metrics.csv").open() as fh:
        ranked = list(csv.DictReader(fh))
    assert {r["symbol"] for r in ranked} == {"LINKUSDT", "DOTUSDT"} and len(ranked) == 2 * 12
    with (results / "backtest_inputs.csv").open() as fh:
        first = next(csv.DictReader(fh))
    assert first  # features were built from the shipped files

    res = work.mraster("ops", "report", "--mode", "backtest")
    assert res.returncode == 0, res.stderr
    for symbol in ("LINKUSDT", "DOTUSDT"):
        best = sorted((r for r in ranked if r["symbol"] == symbol), key=lambda r: int(r["symbol_rank"]))[:10]
        assert f"{symbol}: top 10" in res.stdout
        block = res.stdout.split(f"{symbol}: top 10")[1].split("\n\n")[0]
        rows = block.strip().splitlines()[1:]
        assert [row.split()[1] for row in rows] == [b["config_id"] for b in best]     # same configs, same order
    assert "2026-02-01 .. 2026-02-14 (klines:binance-um-2026-02)" in res.stdout

    before = {p.name: p.read_bytes() for p in results.iterdir()}
    (work.root / "grid.json").write_text('{"strategy": "momentum", "default_grid": {"k": "not a list"}}')
    res = work.mraster("ops", "weekly-backtest")
    assert res.returncode == 1 and "mraster ops weekly-backtest: sweep failed" in res.stderr
    assert {p.name: p.read_bytes() for p in results.iterdir()} == before                # previous results intact
