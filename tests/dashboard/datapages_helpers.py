"""Builders shared by the Data and Backtest page tests: real recorder files (the recorder's own classes on
an injected venue clock, a hand-fed cache) and small real backtest grids on the shipped kline data."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mraster.exchange.market_cache import MarketCache
from mraster.marketdata.dirs import instance_dir
from recorder.gaps import Gap
from recorder.runner import Recorder, RecorderConfig
from tests.recorder.helpers import SYMBOLS, NoNetwork, VenueClock, make_recorder, run_seconds

DAY0 = int(datetime(2026, 3, 1, 12, tzinfo=timezone.utc).timestamp() * 1000)

GRID = {"k": [1.0, 2.0], "T": [10, 30], "n": 1.0, "V": 30, "tp_bps": 30, "sl_bps": [20, 40],
        "activation_bps": 15, "activation_buffer_bps": 2, "callback_bps": 5, "min_tp_gap_bps": 5,
        "spread_max": 5, "funding_max": 5}


def record_days(log_dir: Path, seconds: int = 20) -> dict[str, Any]:
    """Two UTC days of real recorder files (a gap in the second) and the recorder's status file."""
    clock = VenueClock(DAY0)
    rec = make_recorder(log_dir, clock)
    trade = run_seconds(rec, clock, DAY0 - 86_400_000, seconds)
    trade = run_seconds(rec, clock, DAY0, seconds, trade)
    rec._gap(Gap("BTCUSDT", "reconnect", "*", DAY0 + 5000, DAY0 + 5000, "test reconnect"), clock.ms)
    rec.files.flush()
    rec.gap_files.flush()
    rec.state = "running"
    rec._write_status()
    status = json.loads((log_dir / "recorder_status.json").read_text())
    rec.files.close()
    rec.gap_files.close()
    return status


def record_instance(log_dir: Path, run_dir: Path, name: str, symbols: list[str], seconds: int = 5) -> dict[str, Any]:
    """Real files of recorder instance `name`: its CSVs in <log dir>/recorders/<name>/, its status file in
    <run dir>/<name>.status.json (state running, as a live one writes it)."""
    clock = VenueClock(DAY0)
    cache = MarketCache(NoNetwork(), symbols, clock=lambda: clock.ms / 1000)
    rec = Recorder(cache, RecorderConfig(list(symbols), instance_dir(log_dir, name), name=name,
                                         status_path=run_dir / f"{name}.status.json", instance=name), now_ms=clock)
    run_seconds(rec, clock, DAY0, seconds)
    rec.files.flush()
    rec.gap_files.flush()
    rec.state = "running"
    rec._write_status()
    status = json.loads((run_dir / f"{name}.status.json").read_text())
    rec.files.close()
    rec.gap_files.close()
    return status


def sweep_body(kind: str = "sweep", default_grid: dict | None = None, **kw: Any) -> dict[str, Any]:
    body = {"kind": kind, "strategy": "momentum", "source": {"type": "klines", "name": "binance-um-2026-02"},
            "symbols": ["LINKUSDT"], "start_date": "2026-02-01", "end_date": "2026-02-02", "top": 3,
            "grid": {"settings": {"train_frac": 0.7}, "default_grid": default_grid or GRID}}
    body.update(kw)
    return body


__all__ = ["SYMBOLS", "DAY0", "GRID", "record_days", "record_instance", "sweep_body"]
