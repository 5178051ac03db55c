"""The backtester reads what the recorder writes: its CSV families, the Parquet directory and the DuckDB
file of the store (backtest.features), by seed 002's column names."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from recorder.store import Store

from tests.recorder.helpers import SYMBOLS, VenueClock, make_recorder, run_seconds

START = int(datetime(2026, 3, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)


@pytest.fixture
def recorded(tmp_path):
    logs = tmp_path / "logs"
    clock = VenueClock(START)
    rec = make_recorder(logs, clock)
    run_seconds(rec, clock, START, 185)                 # three closed minutes and a bit
    rec.files.close()
    rec.gap_files.close()
    store = Store(tmp_path / "store")
    assert all(r.verified for r in store.load_day(logs, "20260301"))
    return logs, store


def test_backtest_reads_recorder_csvs_and_both_forms_of_the_store(recorded):
    from backtest import features

    logs, store = recorded
    for data in (features.load_log_dir(logs), features.load_store(store.root), features.load_store(store.db_path)):
        assert sorted(data) == sorted(SYMBOLS)
