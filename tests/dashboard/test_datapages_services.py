"""The Data and Backtest services on their own: CSV days and gaps from real recorder files, the read-only
SQL rule, request validation, the shipped datasets, params-file writes (atomic, corrupt file kept aside),
and a real backtest job adopted and cancelled by a second service instance (a dashboard restart)."""
from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest

from dashboard.services.backtests import BacktestService, JobInputError, datasets, validate
from dashboard.services.marketdata import DataInputError, check_sql, csv_days, parse_day, parse_symbols
from tests.dashboard.datapages_helpers import GRID, record_days, sweep_body

ROOT = Path(__file__).resolve().parents[2]


def test_csv_days_and_gaps_from_real_recorder_files(tmp_path):
    record_days(tmp_path)
    (tmp_path / "notes_20260301.csv").write_text("x\n")           # not a family: ignored
    days = csv_days(tmp_path)
    assert [d["day"] for d in days] == ["20260301", "20260228"]
    assert set(days[0]["files"]) == {"kline", "bookTicker", "markPrice", "aggTrade_1s", "depth5", "gaps"}
    assert days[0]["gaps"]["reconnect"] == 1 and days[0]["gaps"]["missing_seconds"] == 3
    with open(tmp_path / "gaps_20260301.csv", "a") as f:
        f.write("1772366400000,2026-03-01 12:00:00.000,BTCUSDT,stale,depth5,1,2")    # torn: not counted
    assert csv_days(tmp_path)[0]["gaps"] == days[0]["gaps"]
    assert csv_days(tmp_path / "missing") == []


@pytest.mark.parametrize("sql", ["select 1", "  WITH a AS (select 1) select * from a;", "describe kline",
                                 "summarize book_ticker", "show tables"])
def test_read_only_sql_is_accepted(sql):
    assert check_sql(sql)


@pytest.mark.parametrize("sql", ["", "insert into _loads values (1)", "select 1; drop table _loads",
                                 "attach 'x.db'", "copy kline to 'x.csv'", "x" * 10_001, None])
def test_anything_else_is_refused(sql):
    with pytest.raises(DataInputError):
        check_sql(sql)


def test_symbol_and_day_parsing():
    assert parse_symbols("btcusdt, ETHUSDT,btcusdt") == ["BTCUSDT", "ETHUSDT"]
    assert parse_symbols(["SOLUSDT"]) == ["SOLUSDT"]
    for bad in ("", [], "BTC/USDT", [""], None, 5):
        with pytest.raises(DataInputError):
            parse_symbols(bad)
    assert parse_day("2026-03-01") == "20260301" and parse_day(None) is None
    with pytest.raises(DataInputError):
        parse_day("1.3.2026")


def test_datasets_and_validation(tmp_path):
    ds = {d["name"]: d for d in datasets()}
    assert ds["binance-um-2026-02"]["symbols"] == ["DOTUSDT", "LINKUSDT", "LTCUSDT"]
    assert (ds["binance-um-2026-02"]["first_day"], ds["binance-um-2026-02"]["last_day"]) == ("2026-02-01", "2026-02-28")
    job = validate(sweep_body(), tmp_path)
    assert job["grid"]["symbols"] == {"LINKUSDT": {}} and job["grid"]["strategy"] == "momentum"
    assert job["source"] == {"type": "klines", "name": "binance-um-2026-02", "spread_bps": 1.0}
    for change, words in [({"start_date": "2026-03-05", "end_date": "2026-03-06"}, "covers"),
                          ({"end_date": "2026-06-30"}, "at most"), ({"top": 0}, "top"), ({"strategy": "x"}, "strategy"),
                          ({"symbols": "LINKUSDT"}, "symbols"), ({"grid": []}, "grid"),
                          ({"source": {"type": "klines", "name": "nope"}}, "source.name")]:
        with pytest.raises(JobInputError, match=words):
            validate(sweep_body(**change), tmp_path)
    with pytest.raises(JobInputError, match="send a JSON object"):
        validate([1], tmp_path)


def test_params_file_is_written_whole_and_a_corrupt_one_kept_aside(tmp_path):
    svc = BacktestService(tmp_path / "run", tmp_path / "store")
    out = svc._write_params("J1", 3, "LINKUSDT", {"k": 2.0, "T": 30}, {"rank": 1, "is_total_pnl": 5.0})
    assert out["kept_aside"] is None
    svc._write_params("J1", 4, "DOTUSDT", {"k": 3.0, "T": 60}, {"rank": 2})
    doc = json.loads(svc.params_file.read_text())
    assert doc["symbols"] == {"LINKUSDT": {"k": 2.0, "T": 30}, "DOTUSDT": {"k": 3.0, "T": 60}}
    assert doc["applied"]["LINKUSDT"]["config_id"] == 3 and doc["applied"]["DOTUSDT"]["rank"] == 2
    svc.params_file.write_text(json.dumps({"symbols": {"LINKUSDT": 7}}))            # valid JSON, wrong shape
    out = svc._write_params("J2", 5, "LTCUSDT", {"k": 1.0}, {})
    assert out["kept_aside"] and "LINKUSDT is not an object" in out["problem"]
    assert json.loads(Path(out["kept_aside"]).read_text()) == {"symbols": {"LINKUSDT": 7}}
    assert json.loads(svc.params_file.read_text())["symbols"] == {"LTCUSDT": {"k": 1.0}}
    assert svc.params()["problem"] is None
    svc.params_file.write_text("{")
    assert "kept aside" in svc.params()["problem"]


def test_a_running_job_is_adopted_and_cancelled_by_a_new_service(tmp_path, monkeypatch):
    """A dashboard restart: the new service finds the running job through its pid file and stops it."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    run = tmp_path / "run"
    grid = dict(GRID, k=[0.5, 1.0, 1.5, 2.0, 2.5, 3.0], T=[10, 20, 30, 40, 50, 60], sl_bps=[20, 30, 40, 50])
    body = sweep_body(default_grid=grid, end_date="2026-02-10")
    body["grid"]["settings"]["chunk_size"] = 1

    async def scenario():
        first = BacktestService(run, tmp_path / "store", python=sys.executable, cwd=tmp_path)
        job = await first.start(body)
        second = BacktestService(run, tmp_path / "store", python=sys.executable, cwd=tmp_path)
        deadline = time.monotonic() + 180
        while second.status(job["id"])["progress"].get("done", 0) < 1:
            assert second.status(job["id"])["state"] not in ("failed", "done"), second.status(job["id"])
            assert time.monotonic() < deadline, "no chunk finished"
            await asyncio.sleep(0.1)
        assert second.status(job["id"])["running"]
        with pytest.raises(Exception, match="sweep is running"):
            await second.start(body)
        out = await second.cancel(job["id"])
        assert out["state"] == "cancelled" and not out["running"]
        first._procs[job["id"]].wait(10)                 # reap the child the first instance started
        return out
    asyncio.run(scenario())
