"""`mraster ops daily-batch` on a work directory of files written by the real recorder, loaded into a
real DuckDB/Parquet store: load, verify, cleanup of loaded old days, idempotence; a failure in the
middle leaves every file; the engines are started again whatever happened."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mraster.marketdata.schema import TABLES
from tests.recorder.helpers import SYMBOLS, VenueClock, make_recorder, run_seconds

TODAY = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).strftime("%Y%m%d")


def record_day(log_dir: Path, offset: int, seconds: int) -> None:
    start = int((TODAY + timedelta(days=offset, hours=1)).timestamp() * 1000)
    clock = VenueClock(start)
    rec = make_recorder(log_dir, clock)
    run_seconds(rec, clock, start, seconds)
    rec.files.close()
    rec.gap_files.close()


def files_of(log_dir: Path, d: str) -> list[Path]:
    return sorted(p for t in TABLES for p in [log_dir / t.csv_name(d)] if p.exists())


def stored_rows(work, d: str) -> dict:
    res = work.mraster("data", "query", f"SELECT table_name, parquet_rows, verified FROM _loads WHERE day='{d}' "
                       "ORDER BY 1", "--format", "json", "--store", "data/store")
    assert res.returncode == 0, res.stderr
    return {r["table_name"]: (r["parquet_rows"], r["verified"]) for r in json.loads(res.stdout)}


@pytest.mark.slow
def test_load_verify_cleanup_and_idempotence(work):
    logs = work.root / "logs"
    record_day(logs, -10, 12)
    record_day(logs, -2, 6)                                  # a night the batch did not run
    record_day(logs, 0, 8)
    old, today = files_of(logs, day(-10)), files_of(logs, day(0))
    assert len(old) == len(TABLES) and len(today) == len(TABLES)

    res = work.mraster("ops", "daily-batch", "--date", day(-10), "--engines", "none")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "[daily-batch] load: ok" in res.stdout and "[daily-batch] verify: ok" in res.stdout
    assert f"{len(TABLES)} file(s) of {day(-10)} loaded and verified" in res.stdout   # --date: that day only
    rows = stored_rows(work, day(-10))
    assert {t.name for t in TABLES} <= set(rows)
    assert all(rows[t.name] == (12 * len(SYMBOLS), True) for t in TABLES)
    assert not any(p.exists() for p in old)                 # loaded, verified, older than 7 days: deleted
    assert all(p.exists() for p in today)                   # today's files are never deleted

    res = work.mraster("ops", "daily-batch", "--engines", "none")          # default: today and the missed day
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{2 * len(TABLES)} file(s) of {day(-2)}, {day(0)} loaded and verified" in res.stdout
    assert all(v == (6 * len(SYMBOLS), True) for k, v in stored_rows(work, day(-2)).items() if k != "gaps")
    first = stored_rows(work, day(0))
    assert all(first[t.name] == (8 * len(SYMBOLS), True) for t in TABLES)
    res = work.mraster("ops", "daily-batch", "--engines", "none")          # again: nothing changes
    assert res.returncode == 0
    assert stored_rows(work, day(0)) == first
    assert all(p.exists() for p in today)
    lines = [json.loads(x) for x in (logs / "ops.jsonl").read_text().splitlines()]
    assert {x["step"] for x in lines if x["event"] == "ops.daily-batch.step"} >= {
        "stop engines", "load", "verify", "cleanup", "start engines"}


def test_a_failed_load_deletes_nothing_and_restarts_the_engines(work, fake_systemctl):
    logs = work.root / "logs"
    record_day(logs, -12, 5)
    assert work.mraster("data", "load", "--date", day(-12), "--log-dir", "logs",
                        "--store", "data/store").returncode == 0      # an old day, loaded: eligible for cleanup
    record_day(logs, -1, 5)
    bad = logs / TABLES[0].csv_name(day(-1))
    bad.write_text("not,the,header\n1,2,3\n")                # yesterday's kline file is damaged
    before = {p: p.read_bytes() for p in logs.iterdir()}
    fake_systemctl.set_state(**{"mraster.service": "active"})
    res = work.mraster("ops", "daily-batch", "--date", day(-1), "--engines", "auto",
                       extra_env={"MRASTER_SYSTEMCTL": str(fake_systemctl.path)})
    assert res.returncode == 1
    assert "mraster ops daily-batch: load failed" in res.stderr
    assert "header is not the columns of table kline" in res.stdout
    assert "cleanup" not in res.stdout                        # the step after the failure never ran
    assert {p: p.read_bytes() for p in logs.iterdir() if p.name != "ops.jsonl"} == \
        {p: b for p, b in before.items() if p.name != "ops.jsonl"}   # every file as it was, the old day too
    calls = fake_systemctl.calls()
    assert calls.index("stop mraster.service") < calls.index("start mraster.service")   # restarted after the failure


def test_no_restart_leaves_the_engines_to_the_timer_and_bad_date_is_refused(work, fake_systemctl):
    env = {"MRASTER_SYSTEMCTL": str(fake_systemctl.path)}
    fake_systemctl.set_state(**{"mraster.service": "active"})
    res = work.mraster("ops", "daily-batch", "--engines", "systemd", "--no-restart", extra_env=env)
    assert res.returncode == 0, res.stderr
    assert "no recorder files" in res.stdout
    assert "stop mraster.service" in fake_systemctl.calls() and "start mraster.service" not in fake_systemctl.calls()
    res = work.mraster("ops", "daily-batch", "--date", "2026-02-30", "--engines", "none")
    assert res.returncode == 1 and "--date '2026-02-30': expected YYYYMMDD" in res.stderr


def test_a_failed_stop_stops_the_job_before_anything_is_loaded(work, fake_systemctl):
    logs = work.root / "logs"
    record_day(logs, 0, 3)
    fake_systemctl.set_state(**{"mraster.service": "active", "fail_stop": "1"})
    res = work.mraster("ops", "daily-batch", "--engines", "systemd", extra_env={"MRASTER_SYSTEMCTL": str(fake_systemctl.path)})
    assert res.returncode == 1 and "systemctl stop mraster.service exited 1" in res.stderr
    assert not (work.root / "data" / "store").exists()
