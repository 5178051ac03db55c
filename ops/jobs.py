"""The scheduled jobs as plain functions: the daily batch and the weekly backtest (seed 002's
`daily_batch_and_cleanup.sh` and `backtest/run_backtest.sh`).

Both are idempotent (loading a day twice changes nothing; a backtest run replaces its results as a
whole) and stop at the first failed step, so nothing is left half done: the cleanup runs only after
the day's load was verified, and the backtest's results appear only when every file of the run is
complete (written to a scratch directory, then moved into place).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from mraster.marketdata.dirs import recorder_dirs
from mraster.marketdata.schema import TABLES, day_files
from mraster.storage.atomic import write_json_atomic

from ops.engines import EngineControl
from ops.steps import JobRun, Mraster, StepFailed

Clock = Callable[[], datetime]
RESULT_FILES = ("backtest_inputs.csv", "config_mapping.csv", "ranked_metrics.csv")
SHIPPED_GRID = Path(__file__).resolve().parent.parent / "backtest" / "examples" / "config_grid.json"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------- daily batch
@dataclass(frozen=True)
class BatchPlan:
    day: str                 # YYYYMMDD: the day named by --date, else today (UTC)
    catch_up: bool           # no --date: also every earlier day not loaded yet (a missed night)
    data_dir: Path
    store_dir: Path
    retention_days: int
    bigquery: tuple[str, str] | None     # (project, dataset) when the export is on
    restart: bool


def day_of(text: str | None, now: datetime) -> str:
    """--date (YYYYMMDD or YYYY-MM-DD) or today (UTC)."""
    if not text:
        return now.astimezone(timezone.utc).strftime("%Y%m%d")
    digits = text.replace("-", "")
    try:
        datetime.strptime(digits, "%Y%m%d")
    except ValueError:
        raise StepFailed(f"--date {text!r}: expected YYYYMMDD") from None
    return digits


def csv_files_of(data_dir: Path, day: str) -> list[Path]:
    """The day's CSV files of every recorder under `data_dir` (the classic one and each instance's)."""
    return sorted(p for _, rd in recorder_dirs(data_dir) for t in TABLES for d, p in day_files(rd, t).items()
                  if d == day)


def daily_batch(plan: BatchPlan, child: Mraster, engines: EngineControl, run: JobRun) -> None:
    """Stop the engines, load the day, verify it, clean up old days, start the engines again.

    Raises StepFailed at the first failure; the engines are started again in every case (unless the
    plan says not to: the systemd stop timer leaves that to the 00:00 restart timer).
    """
    started = time.monotonic()
    stopped = engines.stop()
    run.record("stop engines", True, stopped, started)
    try:
        _load_verify_cleanup(plan, child, run)
    finally:
        if plan.restart:
            started = time.monotonic()
            try:
                run.record("start engines", True, engines.start(), started)
            except StepFailed as exc:
                run.record("start engines", False, str(exc), started)
                raise


def days_to_load(plan: BatchPlan) -> list[str]:
    """The day, and with catch_up every earlier CSV day still in the data directory."""
    if not plan.catch_up:
        return [plan.day]
    found = {d for _, rd in recorder_dirs(plan.data_dir) for t in TABLES for d in day_files(rd, t)}
    return sorted(d for d in found | {plan.day} if d <= plan.day)


def _load_verify_cleanup(plan: BatchPlan, child: Mraster, run: JobRun) -> None:
    store = ["--log-dir", str(plan.data_dir), "--store", str(plan.store_dir)]
    days = {d: files for d in days_to_load(plan) if (files := csv_files_of(plan.data_dir, d))}
    if not days:
        run.record("load", True, f"no recorder files for {plan.day} in {plan.data_dir}: nothing to load",
                   time.monotonic())
    else:
        # with --date that day; else `data load` loads every day not loaded yet, grown, or unverified
        # (a missed night is made up; a loaded day is not converted again)
        child.step(run, "load", ["data", "load", *(["--date", plan.day] if not plan.catch_up else []), *store])
        started = time.monotonic()
        problems = _verify(child, plan.store_dir, days)
        if problems:
            run.record("verify", False, "; ".join(problems), started)
            raise StepFailed(f"verify failed: {'; '.join(problems)}")
        count = sum(len(f) for f in days.values())
        run.record("verify", True, f"{count} file(s) of {', '.join(days)} loaded and verified", started)
        if plan.bigquery:
            project, dataset = plan.bigquery
            child.step(run, "export to BigQuery", ["data", "export-bigquery", "--project", project,
                                                   "--dataset", dataset, "--date", plan.day, "--store",
                                                   str(plan.store_dir)])
    child.step(run, "cleanup", ["data", "cleanup", "--retention-days", str(plan.retention_days), *store])


def _verify(child: Mraster, store_dir: Path, days: dict[str, list[Path]]) -> list[str]:
    """Independent of the load's own report: every file of these days has a load record in the store
    that says its rows were read back and counted equal."""
    listed = ", ".join(f"'{d}'" for d in days)          # days are YYYYMMDD digits (day_of, day_files)
    sql = f"SELECT day, csv_path, verified, csv_rows, parquet_rows FROM _loads WHERE day IN ({listed})"
    code, output = child.run(["data", "query", sql, "--format", "json", "--store", str(store_dir)])
    if code != 0:
        return [f"cannot read the store's load records ({output.strip().splitlines()[-1:]})"]
    try:
        rows = json.loads(output[output.index("["):])
    except (ValueError, json.JSONDecodeError):
        return ["the store's load records are unreadable"]
    by_path = {Path(r["csv_path"]).resolve(): r for r in rows}
    problems = []
    for files in days.values():
        for path in files:
            rec = by_path.get(path.resolve())
            if rec is None:
                problems.append(f"{path.name} not loaded")
            elif not rec["verified"]:
                problems.append(f"{path.name}: {rec['csv_rows']} CSV rows but {rec['parquet_rows']} stored")
    return problems


# ------------------------------------------------------------------------------------ weekly backtest
@dataclass(frozen=True)
class BacktestPlan:
    start: date
    end: date
    source: str              # store | csv | klines:NAME
    data_dir: Path
    store_dir: Path
    grid: Path
    results_dir: Path


def backtest_window(start: str, end: str, now: datetime) -> tuple[date, date]:
    """Seed 002's default: the 28 days ending yesterday (UTC); either end may be given."""
    try:
        last = date.fromisoformat(end) if end else (now.astimezone(timezone.utc).date() - timedelta(days=1))
        first = date.fromisoformat(start) if start else last - timedelta(days=27)
    except ValueError as exc:
        raise StepFailed(f"backtest dates: {exc} (expected YYYY-MM-DD)") from None
    if first > last:
        raise StepFailed(f"backtest dates: start {first} is after end {last}")
    return first, last


def source_args(plan: BacktestPlan) -> list[str]:
    if plan.source == "store":
        return ["--store", str(plan.store_dir)]
    if plan.source == "csv":
        return ["--log-dir", str(plan.data_dir)]
    if plan.source.startswith("klines:"):
        return ["--klines", plan.source[len("klines:"):]]
    raise StepFailed(f"unknown backtest source {plan.source!r} (store, csv or klines:NAME)")


def weekly_backtest(plan: BacktestPlan, child: Mraster, run: JobRun, now: datetime) -> Path:
    """Build features and sweep into a scratch directory, then move the results in; returns the
    ranked CSV. A failure leaves the previous results as they were."""
    if not plan.grid.is_file():
        raise StepFailed(f"grid file {plan.grid} not found")
    plan.results_dir.mkdir(parents=True, exist_ok=True)
    for stale in plan.results_dir.glob(".run-*"):      # left by a run that was killed: never published
        shutil.rmtree(stale, ignore_errors=True)
    scratch = plan.results_dir / f".run-{os.getpid()}-{int(time.time() * 1000)}"
    scratch.mkdir()
    try:
        inputs = scratch / "backtest_inputs.csv"
        child.step(run, "build features", ["backtest", "build", *source_args(plan), "--start-date",
                                           plan.start.isoformat(), "--end-date", plan.end.isoformat(),
                                           "--out-csv", str(inputs)])
        child.step(run, "sweep", ["backtest", "sweep", "--config-file", str(plan.grid), "--inputs-csv",
                                  str(inputs), "--out-config-map-csv", str(scratch / "config_mapping.csv"),
                                  "--out-ranked-csv", str(scratch / "ranked_metrics.csv"), "--no-progress"])
        started = time.monotonic()
        missing = [n for n in RESULT_FILES if not (scratch / n).is_file()]
        if missing:
            run.record("publish", False, f"missing {', '.join(missing)}", started)
            raise StepFailed(f"the sweep wrote no {', '.join(missing)}")
        for name in RESULT_FILES:
            os.replace(scratch / name, plan.results_dir / name)
        write_json_atomic(plan.results_dir / "last_run.json", {
            "start_date": plan.start.isoformat(), "end_date": plan.end.isoformat(), "source": plan.source,
            "grid": str(plan.grid), "finished_utc": now.astimezone(timezone.utc).isoformat()})
        run.record("publish", True, f"results in {plan.results_dir} ({plan.start} .. {plan.end})", started)
        return plan.results_dir / "ranked_metrics.csv"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_summary(run: JobRun, error: str = "") -> dict[str, Any]:
    out = run.summary()
    if error:
        out["ok"], out["error"] = False, error
    return out
