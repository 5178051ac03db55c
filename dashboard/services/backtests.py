"""The Backtest page's service: backtests and sweeps as child processes, one job directory each.

A job is `python -m backtest job --job-dir <run>/backtests/<id>` in its own session (a dashboard restart
or Ctrl+C does not stop it). Everything about it is in its directory (job.json, progress.json, ranked.csv,
mapping.csv, details/, out.log, job.pid), so a restarted dashboard lists every job as it was and sees a
job that still runs. The dashboard never imports the backtester: the grid is checked by the job's own
`--check` mode (the same code the sweep uses), and results are read as files.

Apply: a momentum configuration's parameters go to `<run>/momentum_params.json` (per symbol, seed 002's
`config_grid.json` keys with one value each), written atomically; an unreadable file is kept aside and
reported, never overwritten in place.
"""
from __future__ import annotations

import asyncio
import csv
import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from mraster.data import REPLAY_DIR
from mraster.procinfo import PidRecord, identity_of, is_alive, read_pid_file, signal_group, write_pid_file
from mraster.storage.atomic import CorruptFileError, read_json_checked, write_json_atomic

KINDS = ("run", "sweep")
ACTIVE = ("starting", "building", "checking", "sweeping", "details")
TERMINAL = ("done", "failed", "cancelled")
JOB_ID_RE = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{6}$")
SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,30}$")
KLINE_SYMBOL_RE = re.compile(r"_([A-Z0-9]{3,})(?:-perp)?_1m_")
MAX_SYMBOLS = 20
MAX_CONFIGS = 50_000
MAX_DAYS = 92
CHECK_TIMEOUT_S = 60.0
PARAMS_FILE = "momentum_params.json"
# the scanner's grid keys are the bot's own settings (what SignalParams.from_settings and the bracket code read)
SCANNER_SETTINGS = {"interval": "ASTER_INTERVAL", "htf_interval": "ASTER_HTF_INTERVAL",
                    "rsi_buy_min": "ASTER_RSI_BUY_MIN", "rsi_sell_max": "ASTER_RSI_SELL_MAX",
                    "trend_align": "ASTER_ALLOW_TREND_ALIGN", "align_pad": "ASTER_ALIGN_RSI_PAD",
                    "sl_atr_mult": "ASTER_SL_ATR_MULT", "tp_atr_mult": "ASTER_TP_ATR_MULT"}
MAPPING_TAIL = ("strategy", "stop_fill")          # mapping.csv: parameters sit between symbol and these


class JobInputError(ValueError):
    """422: the request is wrong; the message says how."""


class JobBusy(RuntimeError):
    """409: a job of this kind is running."""


class JobNotFound(LookupError):
    """404."""


def _num(text: str) -> Any:
    """A CSV cell back to a JSON value (numbers as numbers, NaN/inf as null)."""
    if text in ("", "nan", "NaN"):
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        v = float(text)
    except ValueError:
        return text
    if not math.isfinite(v):
        return None
    return int(v) if re.fullmatch(r"-?\d+", text) else v


def _day(value: Any, name: str) -> date:
    try:
        return datetime.strptime(str(value), "%Y-%m-%d").date()
    except ValueError:
        raise JobInputError(f"{name}: expected YYYY-MM-DD, got {value!r}") from None


def datasets() -> list[dict[str, Any]]:
    """Kline datasets shipped with mraster (mraster/data/replay): name, symbols, first and last day."""
    out = []
    for d in sorted(p for p in REPLAY_DIR.iterdir() if p.is_dir()):
        syms = sorted({m.group(1) for f in d.iterdir() for m in [KLINE_SYMBOL_RE.search(f.name)] if m})
        months = sorted(set(re.findall(r"(20\d\d)-?(\d\d)(?:-?(\d\d))?", " ".join(f.name for f in d.iterdir()))))
        if not syms or not months:
            continue
        (y0, m0, d0), (y1, m1, d1) = months[0], months[-1]
        first = date(int(y0), int(m0), int(d0) if d0 else 1)
        last_month_end = (date(int(y1) + (int(m1) == 12), int(m1) % 12 + 1, 1) - date.resolution)
        last = date(int(y1), int(m1), int(d1)) if d1 else last_month_end
        out.append({"name": d.name, "symbols": syms, "first_day": first.isoformat(), "last_day": last.isoformat()})
    return out


def validate(body: Any, store_dir: Path) -> dict[str, Any]:
    """The request -> job.json (without id). The grid's own keys are checked by the job's --check."""
    if not isinstance(body, dict):
        raise JobInputError("send a JSON object")
    kind = body.get("kind", "sweep")
    if kind not in KINDS:
        raise JobInputError(f"kind: one of {', '.join(KINDS)}")
    strategy = body.get("strategy", "momentum")
    if strategy not in ("momentum", "scanner"):
        raise JobInputError("strategy: momentum or scanner")
    symbols = body.get("symbols")
    if not isinstance(symbols, list) or not symbols or not all(isinstance(s, str) and SYMBOL_RE.match(s)
                                                               for s in symbols):
        raise JobInputError("symbols: a non-empty list such as [\"LINKUSDT\"]")
    if len(symbols) > MAX_SYMBOLS:
        raise JobInputError(f"symbols: at most {MAX_SYMBOLS}")
    start, end = _day(body.get("start_date"), "start_date"), _day(body.get("end_date"), "end_date")
    if end < start:
        raise JobInputError("end_date is before start_date")
    if (end - start).days + 1 > MAX_DAYS:
        raise JobInputError(f"at most {MAX_DAYS} days per job from the dashboard")
    src = body.get("source") or {}
    if src.get("type") == "klines":
        known = {d["name"]: d for d in datasets()}
        ds = known.get(src.get("name"))
        if ds is None:
            raise JobInputError(f"source.name: one of {', '.join(known) or 'none'}")
        missing = [s for s in symbols if s not in ds["symbols"]]
        if missing:
            raise JobInputError(f"symbols: {', '.join(missing)} not in {ds['name']} (has {', '.join(ds['symbols'])})")
        if start.isoformat() > ds["last_day"] or end.isoformat() < ds["first_day"]:
            raise JobInputError(f"dates: {ds['name']} covers {ds['first_day']} to {ds['last_day']}")
        source = {"type": "klines", "name": ds["name"], "spread_bps": 1.0}
    elif src.get("type") == "store":
        if not (store_dir / "market.duckdb").exists():
            raise JobInputError("source: the store is empty (load recorded days on the Data page first)")
        source = {"type": "store", "path": str(store_dir / "market.duckdb")}
    else:
        raise JobInputError("source.type: klines (shipped data) or store (recorded data)")
    grid = body.get("grid")
    if not isinstance(grid, dict):
        raise JobInputError("grid: a JSON object (settings, default_grid, optional per-symbol grids)")
    grid = dict(grid, strategy=strategy)
    per_symbol = grid.get("symbols") or {}
    if not isinstance(per_symbol, dict):
        raise JobInputError("grid.symbols: an object of symbol -> grid")
    extra = sorted(set(per_symbol) - set(symbols))
    if extra:
        raise JobInputError(f"grid.symbols: {', '.join(extra)} not among the chosen symbols")
    grid["symbols"] = {s: per_symbol.get(s, {}) for s in symbols}
    top = body.get("top", 10)
    if not isinstance(top, int) or not 1 <= top <= 50:
        raise JobInputError("top: a whole number from 1 to 50")
    return {"kind": kind, "strategy": strategy, "symbols": symbols, "start_date": start.isoformat(),
            "end_date": end.isoformat(), "source": source, "grid": grid, "top": top}


class BacktestService:
    def __init__(self, run_dir: Path, store_dir: Path, *, python: str = sys.executable, cwd: Path | None = None,
                 env: Mapping[str, str] | None = None,
                 coverage: Callable[[], Awaitable[dict[str, Any]]] | None = None):
        self.root = run_dir / "backtests"
        self.params_file = run_dir / PARAMS_FILE
        self.store_dir = store_dir
        self.python, self.cwd, self.env = python, cwd, dict(env) if env is not None else None
        self._procs: dict[str, subprocess.Popen] = {}     # children of this dashboard (reaped on poll)
        self.coverage = coverage                           # the store's coverage (the Data service's)
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ jobs
    def _dir(self, job_id: str) -> Path:
        if not JOB_ID_RE.match(job_id or "") or not (self.root / job_id / "job.json").exists():
            raise JobNotFound(f"no backtest job {job_id!r}")
        return self.root / job_id

    def _argv(self, job_dir: Path, *extra: str) -> list[str]:
        return [self.python, "-m", "backtest", "job", "--job-dir", str(job_dir), *extra]

    async def check(self, body: Any) -> dict[str, Any]:
        """Validate a request and its grid (by the backtester's own code) without running it."""
        job = validate(body, self.store_dir)
        if job["source"]["type"] == "store" and self.coverage is not None:
            cov = await self.coverage()
            missing = [s for s in job["symbols"] if s not in cov["symbols"]]
            if missing:
                raise JobInputError(f"symbols: {', '.join(missing)} not in the store (has "
                                    f"{', '.join(cov['symbols']) or 'none'})")
            days = [d for d in cov["dates"] if job["start_date"] <= d <= job["end_date"]]
            if not days:
                raise JobInputError(f"dates: the store has no day from {job['start_date']} to {job['end_date']} "
                                    f"(it has {', '.join(cov['dates'][:10])}{' ...' if len(cov['dates']) > 10 else ''})")
        tmp = self.root / f".check-{secrets.token_hex(4)}"
        try:
            await asyncio.to_thread(write_json_atomic, tmp / "job.json", job)
            proc = await asyncio.create_subprocess_exec(*self._argv(tmp, "--check"), stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE, cwd=self.cwd, env=self.env)
            try:
                out, err = await asyncio.wait_for(proc.communicate(), CHECK_TIMEOUT_S)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
                raise JobInputError("the grid check did not answer in time") from None
        finally:
            await asyncio.to_thread(_rmtree, tmp)
        try:
            result = json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RuntimeError(f"grid check failed: {err.decode('utf-8', 'replace')[-300:]}") from None
        if not result.get("ok"):
            raise JobInputError(f"grid: {result.get('error')}")
        if result["n_configs"] > MAX_CONFIGS:
            raise JobInputError(f"grid: {result['n_configs']} configurations; at most {MAX_CONFIGS} from the "
                                "dashboard (use `mraster backtest sweep` for more)")
        if job["kind"] == "run" and any(n != 1 for n in result["per_symbol"].values()):
            raise JobInputError("a run takes one value per key (one configuration per symbol); use a sweep for lists")
        return {"job": job, **result}

    async def start(self, body: Any) -> dict[str, Any]:
        checked = await self.check(body)
        job = checked["job"]
        async with self._lock:
            busy = [j for j in self.jobs() if j["kind"] == job["kind"] and j["state"] in ACTIVE]
            if busy:
                raise JobBusy(f"a {job['kind']} is running ({busy[0]['id']}); cancel it or wait for it")
            job_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)
            job_dir = self.root / job_id
            job.update(id=job_id, created_at=time.time(), n_configs=checked["n_configs"])
            await asyncio.to_thread(write_json_atomic, job_dir / "job.json", job)
            await asyncio.to_thread(write_json_atomic, job_dir / "progress.json",
                                    {"state": "starting", "done": 0, "total": 0, "message": "starting"})
            with open(job_dir / "out.log", "ab") as out:
                proc = subprocess.Popen(self._argv(job_dir), cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
            self._procs[job_id] = proc
            identity = await _identity(proc)
            await asyncio.to_thread(write_pid_file, job_dir / "job.pid",
                                    PidRecord(f"backtest-{job_id}", identity, int(time.time() * 1000), str(self.cwd)))
        return self.status(job_id)

    def _alive(self, job_id: str, job_dir: Path) -> bool:
        proc = self._procs.get(job_id)
        if proc is not None:
            return proc.poll() is None
        try:
            rec = read_pid_file(job_dir / "job.pid")
        except Exception:
            return False
        return rec is not None and is_alive(rec.identity)

    def status(self, job_id: str) -> dict[str, Any]:
        job_dir = self._dir(job_id)
        job = json.loads((job_dir / "job.json").read_text())
        try:
            prog = json.loads((job_dir / "progress.json").read_text())
        except (OSError, ValueError):
            prog = {"state": "starting"}
        alive = self._alive(job_id, job_dir)
        state = prog.get("state", "starting")
        if state in ACTIVE and not alive:
            tail = _tail(job_dir / "out.log")
            prog = dict(prog, state="failed", message=f"the job stopped without finishing ({tail or 'no output'})")
            state = "failed"
        proc = self._procs.get(job_id)
        return {"id": job_id, "kind": job["kind"], "strategy": job["strategy"], "symbols": job["symbols"],
                "start_date": job["start_date"], "end_date": job["end_date"], "source": job["source"],
                "n_configs": job.get("n_configs"), "created_at": job.get("created_at"), "state": state,
                "running": alive and state not in TERMINAL, "progress": prog, "has_results": (job_dir / "ranked.csv").exists(),
                "exit_code": proc.returncode if proc is not None else None, "grid": job["grid"]}

    def jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        ids = sorted((p.name for p in self.root.iterdir() if JOB_ID_RE.match(p.name)), reverse=True)[:limit]
        return [self.status(i) for i in ids if (self.root / i / "job.json").exists()]

    async def cancel(self, job_id: str, timeout: float = 15.0) -> dict[str, Any]:
        """SIGINT (the job keeps its finished chunks), then SIGKILL if it does not stop in `timeout`."""
        job_dir = self._dir(job_id)
        if not self.status(job_id)["running"]:
            return self.status(job_id)
        self._signal(job_id, job_dir, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while self._alive(job_id, job_dir) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self._alive(job_id, job_dir):
            self._signal(job_id, job_dir, signal.SIGKILL)
            await asyncio.to_thread(write_json_atomic, job_dir / "progress.json",
                                    {"state": "cancelled", "message": f"killed: did not stop within {timeout:g} s"})
        return self.status(job_id)

    def _signal(self, job_id: str, job_dir: Path, sig: signal.Signals) -> None:
        proc = self._procs.get(job_id)
        if proc is not None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            return
        rec = read_pid_file(job_dir / "job.pid")
        if rec is not None:
            signal_group(rec.identity, sig)

    # ------------------------------------------------------------------ results
    def results(self, job_id: str, sort: str = "rank", desc: bool = False, limit: int = 200,
                symbol: str | None = None) -> dict[str, Any]:
        path = self._dir(job_id) / "ranked.csv"
        if not path.exists():
            return {"columns": [], "rows": [], "total": 0}
        with open(path, newline="") as f:
            reader = csv.reader(f)
            columns = next(reader, [])
            rows = [[_num(v) for v in r] for r in reader]
        if sort not in columns:
            raise JobInputError(f"sort: one of the table's columns ({', '.join(columns[:8])}, ...)")
        if not 1 <= limit <= 5000:
            raise JobInputError("limit: 1 to 5000")
        if symbol is not None:
            si = columns.index("symbol")
            rows = [r for r in rows if r[si] == symbol]
        i = columns.index(sort)
        present = [r for r in rows if r[i] is not None]
        present.sort(key=lambda r: (isinstance(r[i], str), r[i]), reverse=desc)
        rows = present + [r for r in rows if r[i] is None]
        return {"columns": columns, "rows": rows[:limit], "total": len(rows)}

    def details(self, job_id: str, config_id: int) -> dict[str, Any]:
        path = self._dir(job_id) / "details" / f"{int(config_id)}.json"
        if not path.exists():
            raise JobNotFound(f"no equity and trades for configuration {config_id} (kept for the top "
                              "configurations of a finished job)")
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def detail_ids(self, job_id: str) -> list[int]:
        d = self._dir(job_id) / "details"
        return sorted(int(p.stem) for p in d.glob("*.json")) if d.is_dir() else []

    def _mapping_row(self, job_dir: Path, config_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
        with open(job_dir / "mapping.csv", newline="") as f:
            reader = csv.DictReader(f)
            cols = reader.fieldnames or []
            for row in reader:
                if row["config_id"] == str(config_id):
                    params = cols[cols.index("symbol") + 1:min(cols.index(t) for t in MAPPING_TAIL if t in cols)]
                    return row, {k: _num(row[k]) for k in params if row[k] != ""}
        raise JobNotFound(f"configuration {config_id} is not in job {job_dir.name}")

    async def apply(self, job_id: str, config_id: Any,
                    save_settings: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = None
                    ) -> dict[str, Any]:
        """Momentum: write the configuration's parameters for its symbol into momentum_params.json
        (atomically). Scanner: save its keys as the bot's ASTER_* settings through `save_settings` (the
        config store: validated, atomic, audited); they apply to every symbol the bot scans."""
        job_dir = self._dir(job_id)
        if isinstance(config_id, bool) or not isinstance(config_id, int) or config_id < 0:
            raise JobInputError("config_id: a whole number >= 0")
        job = json.loads((job_dir / "job.json").read_text())
        row, params = self._mapping_row(job_dir, config_id)
        res = await asyncio.to_thread(self.results, job_id, "rank", False, 5000)
        cols = res["columns"]
        ranked = next((dict(zip(cols, r)) for r in res["rows"] if r[cols.index("config_id")] == config_id), None)
        if ranked is None:
            raise JobInputError(f"configuration {config_id} has no results (the job ended before it ran); "
                                "apply a ranked one")
        if job["strategy"] == "scanner":
            if save_settings is None:
                raise JobInputError("scanner configurations are applied as the bot's settings, not here")
            updates = {SCANNER_SETTINGS[k]: v for k, v in params.items() if k in SCANNER_SETTINGS}
            result = await save_settings(updates)
            return {"strategy": "scanner", "symbol": row["symbol"], "params": params, "settings": updates,
                    "not_applied": sorted(set(params) - set(SCANNER_SETTINGS)), "result": result}
        return await asyncio.to_thread(self._write_params, job_id, config_id, row["symbol"], params, ranked)

    def _write_params(self, job_id: str, config_id: int, symbol: str, params: dict[str, Any],
                      ranked: dict[str, Any]) -> dict[str, Any]:
        kept_aside, problem = None, None
        try:
            current = read_json_checked(self.params_file, _check_params) or {}
        except CorruptFileError as exc:
            current, kept_aside, problem = {}, str(exc.quarantined), exc.reason
        doc = {"version": 1, "symbols": dict(current.get("symbols", {})), "applied": dict(current.get("applied", {}))}
        doc["symbols"][symbol] = params
        doc["applied"][symbol] = {"job": job_id, "config_id": config_id, "rank": ranked.get("rank"),
                                  "is_total_pnl": ranked.get("is_total_pnl"),
                                  "oos_total_pnl": ranked.get("oos_total_pnl"),
                                  "applied_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        doc["updated_at"] = doc["applied"][symbol]["applied_at"]
        write_json_atomic(self.params_file, doc)
        return {"strategy": "momentum", "file": str(self.params_file), "symbol": symbol, "params": params, "kept_aside": kept_aside,
                "problem": problem, "document": doc}

    def params(self) -> dict[str, Any]:
        """The current momentum_params.json (a corrupt one is kept aside and reported)."""
        try:
            return {"file": str(self.params_file), "document": read_json_checked(self.params_file, _check_params),
                    "problem": None}
        except CorruptFileError as exc:
            return {"file": str(self.params_file), "document": None, "problem": str(exc)}


def _check_params(obj: Any) -> Any:
    if not isinstance(obj, dict) or not isinstance(obj.get("symbols", {}), dict):
        raise ValueError("expected an object with a \"symbols\" map")
    for sym, p in obj.get("symbols", {}).items():
        if not isinstance(p, dict):
            raise ValueError(f"symbols.{sym} is not an object")
    return obj


async def _identity(proc: subprocess.Popen) -> Any:
    """The child's identity once exec has set its command line (see Supervisor._identity_after_exec)."""
    from mraster.procinfo import ProcessIdentity
    deadline = time.monotonic() + 1.0
    while True:
        ident = identity_of(proc.pid)
        if ident is not None and ident.cmdline:
            return ident
        if proc.poll() is not None or time.monotonic() > deadline:
            return ProcessIdentity(proc.pid, ident.start_ticks if ident else -1, tuple(proc.args))
        await asyncio.sleep(0.005)


def _tail(path: Path, n: int = 300) -> str:
    try:
        text = path.read_bytes()[-n:].decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return text.splitlines()[-1] if text else ""


def _rmtree(path: Path) -> None:
    import shutil
    shutil.rmtree(path, ignore_errors=True)
