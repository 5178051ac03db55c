"""The analytic store on real DuckDB and Parquet files: idempotent loads verified by row counts, a torn
last line never loaded, coverage, cleanup of loaded+verified days only, the BigQuery dry run (no library,
no network)."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mraster.marketdata.schema import AGG_TRADE_1S, TABLES
from recorder.store import Store
from recorder.store.bigquery import check_schema, plan
from recorder.store.cli import format_table
from tests.recorder.helpers import SYMBOLS, VenueClock, make_recorder, run_seconds

DAY1 = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() * 1000)
ROOT = Path(__file__).resolve().parents[2]


def record_day(log_dir: Path, start_ms: int, seconds: int) -> None:
    clock = VenueClock(start_ms)
    rec = make_recorder(log_dir, clock)
    run_seconds(rec, clock, start_ms, seconds)
    rec.files.close()
    rec.gap_files.close()


@pytest.fixture
def logs(tmp_path):
    d = tmp_path / "logs"
    record_day(d, DAY1 + 3_600_000, 20)
    record_day(d, DAY1 + 86_400_000 + 7_200_000, 10)
    return d


def test_load_is_verified_and_idempotent(tmp_path, logs):
    store = Store(tmp_path / "store")
    first = store.load_day(logs, "20260301")
    assert {r.table for r in first} == {t.name for t in TABLES} | {"gaps"}
    for r in first:
        if r.table != "gaps":
            assert r.verified and r.csv_rows == r.parquet_rows == 20 * len(SYMBOLS) and r.symbols == 3
    again = store.load_day(logs, "20260301")
    assert [(r.table, r.parquet_rows) for r in again] == [(r.table, r.parquet_rows) for r in first]
    cols, rows = store.query("SELECT symbol, count(*) FROM agg_trade_1s GROUP BY 1 ORDER BY 1")
    assert rows == [(s, 20) for s in sorted(SYMBOLS)]
    assert sorted((store.parquet / "book_ticker").glob("date=*/symbol=*/data.parquet")) == [
        store.parquet / "book_ticker" / "date=2026-03-01" / f"symbol={s}" / "data.parquet" for s in sorted(SYMBOLS)]
    cols, _ = store.query("SELECT * FROM depth5 LIMIT 1")
    assert cols == [t for t in TABLES if t.name == "depth5"][0].names       # the seed's columns, in order
    _, types = store.query("SELECT typeof(date), typeof(k1_closed), typeof(ts_unix_ms) FROM kline LIMIT 1")
    assert types == [("DATE", "BOOLEAN", "BIGINT")]


def test_a_torn_last_line_is_not_loaded(tmp_path, logs):
    path = logs / AGG_TRADE_1S.csv_name("20260301")
    with open(path, "ab") as f:
        f.write(b"1772330420000,2026-03-01 01:00:20.000,BTCUSDT,3,1.")
    store = Store(tmp_path / "store")
    res = {r.table: r for r in store.load_day(logs, "20260301")}
    assert res["agg_trade_1s"].parquet_rows == 60 and res["agg_trade_1s"].verified
    assert "torn" in res["agg_trade_1s"].note


def test_coverage_per_symbol_and_day(tmp_path, logs):
    store = Store(tmp_path / "store")
    store.load_day(logs, "20260301")
    store.load_day(logs, "20260302")
    cov = store.coverage()
    assert [(r["date"], r["symbol"]) for r in cov] == [(d, s) for d in ("2026-03-01", "2026-03-02")
                                                       for s in sorted(SYMBOLS)]
    first = cov[0]
    assert first["agg_trade_1s_rows"] == 20 and first["book_ticker_rows"] == 20
    assert first["span_pct"] == 100.0 and first["day_pct"] == round(100 * 20 / 86400, 2)


def test_cleanup_deletes_only_loaded_and_verified_days_never_today(tmp_path, logs):
    store = Store(tmp_path / "store")
    store.load_day(logs, "20260301")                          # loaded; 20260302 is not
    doomed, kept = store.cleanup(logs, 7, dry_run=True, today="20260320")
    assert {p.name for p in doomed} == {t.csv_name("20260301") for t in TABLES} | {"gaps_20260301.csv"}
    assert any(k.startswith("20260302: kept") and "not loaded" in k for k in kept)
    assert all(p.exists() for p in doomed)                      # a dry run deletes nothing
    with open(logs / AGG_TRADE_1S.csv_name("20260301"), "a") as f:     # changed after the load
        f.write("1,x,BTCUSDT,0,0,,0,0,0,0,2026-03-01,0,0,1\n")
    doomed, kept = store.cleanup(logs, 7, today="20260320")
    assert doomed == [] and any("changed since it was loaded" in k for k in kept)
    store.load_day(logs, "20260301")
    doomed, _ = store.cleanup(logs, 7, today="20260320")
    assert doomed and not any(p.exists() for p in doomed)
    assert (logs / AGG_TRADE_1S.csv_name("20260302")).exists()
    # today's files are never deleted, even loaded
    store.load_day(logs, "20260302")
    doomed, _ = store.cleanup(logs, 1, today="20260302")
    assert doomed == []


def test_bigquery_dry_run_checks_the_schema_against_seed_002(tmp_path, logs):
    store = Store(tmp_path / "store")
    store.load_day(logs, "20260301")
    jobs = plan(store, "proj", "aster")
    assert sorted(j.destination for j in jobs) == sorted(f"proj.aster.{t.name}$20260301" for t in TABLES)
    assert all(j.rows == 60 for j in jobs)
    assert check_schema(store) == []
    wrong = (ROOT / "recorder" / "store" / "seed002_bigquery.sql").read_text().replace("  spread FLOAT64",
                                                                                       "  spread_bps FLOAT64")
    problems = check_schema(store, wrong)
    assert problems and all("book_ticker" in p for p in problems)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "commands.main", "data", "export-bigquery", "--project", "proj",
                          "--dry-run", "--store", str(store.root)], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "LOAD 3 parquet file(s), 60 rows -> proj.aster.kline$20260301" in out.stdout
    assert "schema OK" in out.stdout


def test_cli_load_query_coverage_cleanup(tmp_path, logs):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    store = tmp_path / "store"

    def run(*args):
        return subprocess.run([sys.executable, "-m", "commands.main", "data", *args, "--store", str(store)],
                              capture_output=True, text=True, env=env, timeout=60)

    out = run("load", "--date", "20260301", "--log-dir", str(logs))
    assert out.returncode == 0, out.stderr
    assert "agg_trade_1s" in out.stdout and "NO" not in out.stdout
    out = run("query", "SELECT symbol, count(*) AS n FROM kline GROUP BY 1 ORDER BY 1")
    assert out.returncode == 0 and "BTCUSDT  20" in out.stdout and "(3 rows)" in out.stdout
    out = run("query", "SELECT * FROM no_such_table")
    assert out.returncode == 1 and "no_such_table" in out.stderr
    out = run("coverage", "--log-dir", str(logs))
    assert "2026-03-01  BTCUSDT" in out.stdout and "CSV days not loaded yet: 20260302" in out.stdout
    out = run("cleanup", "--retention-days", "7", "--dry-run", "--log-dir", str(logs))
    assert out.returncode == 0 and "would delete" in out.stdout


def test_format_table_aligns_numbers_right():
    text = format_table(["a", "n"], [("x", 1), ("yy", 22)])
    assert text.splitlines()[2] == "x    1" and text.endswith("(2 rows)")


def test_pending_days_are_the_unloaded_and_the_grown_ones(tmp_path, logs):
    store = Store(tmp_path / "store")
    assert store.pending_days(logs) == ["20260301", "20260302"]
    store.load_day(logs, "20260301")
    assert store.pending_days(logs) == ["20260302"]
    record_day(logs, DAY1 + 3_600_000 + 60_000, 2)              # the recorder went on writing that day
    assert store.pending_days(logs) == ["20260301", "20260302"]


def test_read_csv_day_for_readers_drops_a_torn_line_and_keeps_the_seed_types(logs):
    from mraster.marketdata.csvread import read_csv_day

    path = logs / AGG_TRADE_1S.csv_name("20260301")
    with open(path, "ab") as f:
        f.write(b"1772330420000,2026-03-01 01:00:20.000,BTCUSDT,3,1.")
    table, lines = read_csv_day(path, AGG_TRADE_1S)
    assert table.num_rows == lines == 60 and table.column_names == AGG_TRADE_1S.names
    df = table.to_pandas()
    assert str(df["ts_unix_ms"].dtype) == "int64" and str(df["n_trades_1s"].dtype) == "int64"
    assert df["vwap_1s"].notna().all()                  # every hand-fed second had a trade
    head = path.with_name("aggTrade_1s_20260309.csv")
    head.write_text(",".join(AGG_TRADE_1S.names) + "\n")
    empty, n = read_csv_day(head, AGG_TRADE_1S)
    assert n == empty.num_rows == 0 and empty.column_names == AGG_TRADE_1S.names


def test_gaps_over_midnight_count_on_both_days_and_every_reconnect_counts():
    from recorder.store.duck import split_by_day

    midnight = DAY1 + 86_400_000
    assert split_by_day(midnight - 600_000, midnight + 300_000) == [("2026-03-01", 600.0), ("2026-03-02", 300.0)]
    assert split_by_day(midnight + 5, midnight + 5) == [("2026-03-02", 0.0)]


def test_coverage_counts_gaps_and_reconnects(tmp_path):
    from mraster.exchange.market_cache import Reconnect

    logs = tmp_path / "logs"
    start = DAY1 + 3_600_000
    clock = VenueClock(start)
    rec = make_recorder(logs, clock)
    rec._resume("20260301")
    tid = run_seconds(rec, clock, start, 3)
    for n in (2, 3):
        rec.cache.reconnects.append(Reconnect(0.0, start + 3000, n, ("BTCUSDT",)))
    run_seconds(rec, clock, start + 8000, 2, tid)          # 5 s missing for every symbol
    rec.files.close()
    rec.gap_files.close()
    store = Store(tmp_path / "store")
    store.load_day(logs, "20260301")
    cov = {r["symbol"]: r for r in store.coverage()}
    assert cov["BTCUSDT"]["reconnects"] == 2 and cov["ETHUSDT"]["reconnects"] == 0
    assert {r["gap_seconds"] for r in cov.values()} == {5.0}


@pytest.mark.parametrize("argv", [["record", "--symbols", "BTC-USDT"], ["record", "--symbols", ""],
                                  ["record", "--symbols", "BTCUSDT", "--poll-time", "0"],
                                  ["data", "load", "--date", "2026-03-01"], ["data", "cleanup", "--retention-days", "x"]])
def test_bad_arguments_are_refused_with_exit_2(argv, capsys):
    from commands.main import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and "error" in capsys.readouterr().err


def test_cleanup_refuses_a_retention_below_one_day(tmp_path, logs):
    from recorder.store import StoreError

    with pytest.raises(StoreError):
        Store(tmp_path / "store").cleanup(logs, 0)


def record_into(log_dir: Path, start_ms: int, seconds: int, symbols: list[str]) -> None:
    clock = VenueClock(start_ms)
    rec = make_recorder(log_dir, clock, symbols)
    run_seconds(rec, clock, start_ms, seconds)
    rec.files.close()
    rec.gap_files.close()


def test_every_recorder_directory_is_loaded_once_and_a_shared_symbol_is_never_stored_twice(tmp_path):
    from mraster.marketdata.dirs import instance_dir, recorder_dirs
    logs = tmp_path / "logs"
    record_into(logs, DAY1 + 3_600_000, 10, ["BTCUSDT", "ETHUSDT"])                    # the classic recorder
    record_into(instance_dir(logs, "rec1"), DAY1 + 3_600_000, 6, ["SOLUSDT"])
    record_into(instance_dir(logs, "rec2"), DAY1 + 3_600_000, 8, ["ETHUSDT", "XRPUSDT"])  # ETHUSDT: classic has it
    record_into(instance_dir(logs, "rec2"), DAY1 + 86_400_000, 4, ["XRPUSDT"])           # a day only rec2 has
    (logs / "recorders" / "Not-an-instance").mkdir()
    assert [n for n, _ in recorder_dirs(logs)] == ["", "rec1", "rec2"]
    store = Store(tmp_path / "store")
    assert store.csv_days(logs) == store.pending_days(logs) == ["20260301", "20260302"]
    res = {r.table: r for r in store.load_day(logs, "20260301")}
    bt = res["book_ticker"]
    assert bt.verified and bt.csv_rows == 2 * 10 + 6 + 2 * 8 and bt.parquet_rows == 2 * 10 + 6 + 8
    assert "8 rows of ETHUSDT in rec2/ skipped" in bt.note and "3 recorder directories" in bt.note
    _, rows = store.query("SELECT symbol, count(*), count(DISTINCT ts_unix_ms) FROM book_ticker GROUP BY 1 ORDER BY 1")
    assert rows == [("BTCUSDT", 10, 10), ("ETHUSDT", 10, 10), ("SOLUSDT", 6, 6), ("XRPUSDT", 8, 8)]
    again = {r.table: r for r in store.load_day(logs, "20260301")}
    assert again["book_ticker"].parquet_rows == bt.parquet_rows                        # idempotent
    assert store.pending_days(logs) == ["20260302"]
    store.load_day(logs, "20260302")
    assert store.pending_days(logs) == []
    record_into(instance_dir(logs, "rec1"), DAY1 + 3_600_000 + 60_000, 2, ["SOLUSDT"])   # rec1 went on writing
    assert store.pending_days(logs) == ["20260301"]
    doomed, kept = store.cleanup(logs, 7, dry_run=True, today="20260320")
    assert any("recorders/rec1/aggTrade_1s_20260301.csv changed since it was loaded" in k for k in kept)
    assert {p.parent.name for p in doomed} == {"rec2"}                                 # 20260302: rec2 only
    store.load_day(logs, "20260301")
    doomed, _ = store.cleanup(logs, 7, today="20260320")
    assert {p.parent.name for p in doomed} == {"logs", "rec1", "rec2"} and not any(p.exists() for p in doomed)
    assert store.csv_days(logs) == []
