"""The Data page's service: the recorders (engine instances of kind `recorder`, and the classic recorder),
their status files, CSV days on disk, and the analytic store through the `mraster data` command.

The dashboard imports neither `recorder` nor its store (applications do not import each other).

- Recorder instances live in engines.json like every engine: added, started and stopped through the
  engine service (`EngineService`, one supervised child `python -m recorder --instance NAME` each), their
  figures from `<run dir>/<name>.status.json`, their CSV days in `<log dir>/recorders/<name>/`.
- The classic recorder (`recorder`, what the Data page ran before instances) keeps working for whoever has
  it: `python -m recorder --symbols ...` under its own `Supervisor` (pid file, adoption after a dashboard
  restart), `recorder_status.json` and its CSVs in the log directory itself, its symbols in
  `run/recorder_args.json`.
- Two recorders never record one symbol at once: engines.json refuses it between instances (422), and
  starting the classic recorder or an instance is refused (409) while the other one records that symbol.
- Store work (coverage, load, query, export) runs `mraster data ...` as short child processes, off the event
  loop; the store reads every recorder directory (recorder/store/duck.py), each day once.
"""
from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from mraster.engines import InstanceError
from mraster.engines.kinds.recorder import MAX_SYMBOLS
from mraster.marketdata.csvread import complete_length
from mraster.marketdata.dirs import instance_dir, recorder_dirs
from mraster.marketdata.schema import TABLES
from mraster.storage.atomic import CorruptFileError, read_json_checked, write_json_atomic

from dashboard.services.supervisor import ChildSpec, Supervisor

RECORDER = "recorder"
STATUS_FILE = "recorder_status.json"          # written by recorder/runner.py
ARGS_FILE = "recorder_args.json"              # the dashboard's choice of symbols, so a restart keeps it
SYMBOL_RE = re.compile(r"[A-Z0-9]{2,30}")
KIND = "recorder"                             # the engine kind (mraster/engines/kinds/recorder.py)
ACTIONS = ("start", "stop", "restart")
DAY_FILE_RE = re.compile(r"^(?P<family>[A-Za-z0-9]+(?:_1s)?)_(?P<day>\d{8})\.csv$")
FAMILIES = tuple(t.family for t in TABLES) + ("gaps",)
QUERY_TIMEOUT_S = 60.0
LOAD_TIMEOUT_S = 600.0
MAX_QUERY_ROWS = 10_000


class DataInputError(ValueError):
    """A request the page can fix (422): the message says what is wrong."""


class DataBusy(RuntimeError):
    """Another store action is running (409)."""


class StoreCommandError(RuntimeError):
    """`mraster data` failed; the message is its own (e.g. a SQL error)."""


def parse_symbols(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise DataInputError("symbols: give a list such as [\"BTCUSDT\", \"ETHUSDT\"]")
    out = [str(s).strip().upper() for s in items if str(s).strip()]
    bad = [s for s in out if not SYMBOL_RE.fullmatch(s)]
    if bad or not out:
        raise DataInputError(f"symbols: {', '.join(bad) or 'none'} is not a symbol like BTCUSDT")
    if len(set(out)) > MAX_SYMBOLS:
        raise DataInputError(f"symbols: at most {MAX_SYMBOLS} per recorder")
    return list(dict.fromkeys(out))


def parse_day(value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).replace("-", "")
    if not re.fullmatch(r"20\d{6}", text):
        raise DataInputError(f"date: expected YYYY-MM-DD or YYYYMMDD, got {value!r}")
    return text


def check_sql(sql: Any) -> str:
    """One read-only statement (the child also opens the database read-only; this gives a clear message)."""
    if not isinstance(sql, str) or not sql.strip():
        raise DataInputError("sql: empty")
    text = sql.strip().rstrip(";").strip()
    if len(text) > 10_000:
        raise DataInputError("sql: longer than 10,000 characters")
    if ";" in text:
        raise DataInputError("sql: one statement only")
    if not re.match(r"(?is)^\s*(select|with|describe|show|summarize|pragma\s+table_info)\b", text):
        raise DataInputError("sql: only SELECT, WITH, DESCRIBE, SHOW or SUMMARIZE (the store is read-only here)")
    return text


def csv_days(log_dir: Path) -> list[dict[str, Any]]:
    """Per UTC day on disk, over every recorder directory (the classic one and each instance's): bytes per
    family (summed), complete data rows of the gaps files by kind, and which recorders wrote that day."""
    days: dict[str, dict[str, Any]] = {}
    if not log_dir.is_dir():
        return []
    for source, directory in recorder_dirs(log_dir):
        for p in directory.iterdir():
            m = DAY_FILE_RE.match(p.name)
            if not m or m.group("family") not in FAMILIES:
                continue
            d = days.setdefault(m.group("day"), {"day": m.group("day"), "files": {}, "bytes": 0, "gaps": {},
                                                 "recorders": []})
            size = p.stat().st_size
            family = m.group("family")
            d["files"][family] = d["files"].get(family, 0) + size
            d["bytes"] += size
            name = source or RECORDER
            if name not in d["recorders"]:
                d["recorders"].append(name)
            if family == "gaps":
                d["gaps"] = dict(Counter(d["gaps"]) + Counter(gap_counts(p)))
    return [days[k] for k in sorted(days, reverse=True)]


def gap_counts(path: Path) -> dict[str, int]:
    """Gap rows by kind (column 4 of gaps_YYYYMMDD.csv), complete lines only."""
    end = complete_length(path)
    if not end:
        return {}
    with open(path, "rb") as f:
        lines = f.read(end).decode("utf-8", "replace").split("\n")[1:]
    return dict(Counter(line.split(",")[3] for line in lines if line.count(",") >= 4))


class DataService:
    def __init__(self, log_dir: Path, run_dir: Path, store_dir: Path, spec_for: Callable[[tuple[str, ...]], ChildSpec],
                 *, python: str = sys.executable, paper: Callable[[], bool] = lambda: True,
                 auto_restart: Callable[[], bool] = lambda: True, stop_timeout: float = 20.0,
                 cwd: Path | None = None, env: dict[str, str] | None = None):
        self.log_dir, self.run_dir, self.store_dir = log_dir, run_dir, store_dir
        self.spec_for, self.python, self.paper = spec_for, python, paper
        self.auto_restart, self.stop_timeout = auto_restart, stop_timeout
        self.cwd, self.env = cwd, env
        self.engines: Any = None                     # the EngineService (recorder instances), set by the app
        self.supervisor: Supervisor | None = None
        self.args: dict[str, Any] | None = None
        self.problem = ""
        self._store_lock = asyncio.Lock()
        self._coverage: tuple[float, dict[str, Any]] | None = None

    # ------------------------------------------------------------------ recorder
    def _argv(self, symbols: list[str], paper: bool) -> tuple[str, ...]:
        argv = (self.python, "-m", "recorder", "--symbols", ",".join(symbols), "--log-dir", str(self.log_dir),
                "--name", RECORDER)
        return argv + (("--paper",) if paper else ())

    async def open(self) -> None:
        """Adopt a recorder a previous dashboard started (its arguments are in the run directory)."""
        try:
            self.args = read_json_checked(self.run_dir / ARGS_FILE)
        except CorruptFileError as exc:
            self.problem = str(exc)
        if self.args:
            await self._supervise(list(self.args["symbols"]), bool(self.args.get("paper")))

    async def close(self) -> None:
        if self.supervisor is not None:
            await self.supervisor.close()

    async def _supervise(self, symbols: list[str], paper: bool) -> Supervisor:
        if self.supervisor is not None:
            await self.supervisor.close()
        self.supervisor = Supervisor({RECORDER: self.spec_for(self._argv(symbols, paper))},
                                     stop_timeout=self.stop_timeout, auto_restart=self.auto_restart)
        await self.supervisor.open()
        return self.supervisor

    async def start_recorder(self, symbols: Any) -> dict[str, Any]:
        syms = parse_symbols(symbols)
        if self.supervisor is not None and self.supervisor.is_running(RECORDER):
            raise DataBusy("the recorder is running; stop it before starting it with other symbols")
        self._refuse_shared(RECORDER, syms)
        paper = bool(self.paper())
        self.args = {"symbols": syms, "paper": paper, "log_dir": str(self.log_dir)}
        await asyncio.to_thread(write_json_atomic, self.run_dir / ARGS_FILE, self.args)
        sup = await self._supervise(syms, paper)
        await sup.start(RECORDER)
        return self.recorder()

    async def stop_recorder(self) -> dict[str, Any]:
        if self.supervisor is not None:
            await self.supervisor.stop(RECORDER)
        return self.recorder()

    def recorder(self) -> dict[str, Any]:
        """Process state plus the recorder's own figures (status file), with the file's age."""
        proc = self.supervisor.status(RECORDER) if self.supervisor else {"name": RECORDER, "state": "stopped",
                                                                            "pid": None, "message": ""}
        status, problem, age = None, self.problem, None
        path = self.log_dir / STATUS_FILE
        try:
            status = json.loads(path.read_text())
            age = round(max(0.0, time.time() - path.stat().st_mtime), 1)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:       # the recorder rewrites it atomically: this is rare
            problem = f"{path.name} unreadable: {exc}"
        return {"process": proc, "args": self.args, "status": status, "status_age_s": age,
                "status_file": str(path), "problem": problem, "log_dir": str(self.log_dir)}

    # ------------------------------------------------------------------ recorder instances
    def _instances(self) -> list[Any]:
        return [i for i in self.engines.instances if i.kind == KIND] if self.engines is not None else []

    def _symbols_of(self, inst: Any) -> list[str]:
        return [str(v) for v in self.engines.values_of(inst).get("SYMBOLS", ())]

    def _running(self, name: str) -> bool:
        if name == RECORDER:
            return self.supervisor is not None and self.supervisor.is_running(RECORDER)
        sup = self.engines.supervisor
        return bool(sup.has(name) and sup.is_running(name))

    def _refuse_shared(self, name: str, symbols: list[str]) -> None:
        """DataBusy when another running recorder (the classic one, or an instance) records one of these."""
        others: list[tuple[str, list[str]]] = [(i.name, self._symbols_of(i)) for i in self._instances()]
        if self.args:
            others.append((RECORDER, list(self.args.get("symbols", []))))
        for other, syms in others:
            shared = sorted(set(syms) & set(symbols))
            if other != name and shared and self._running(other):
                raise DataBusy(f"{other} is recording {', '.join(shared)}; two recorders never record one symbol "
                               f"(stop {other} or change its symbols first)")

    def recorder_view(self, inst: Any) -> dict[str, Any]:
        """One recorder instance: the engine view (process, status file) plus its symbols, directory and
        the status file's age."""
        view: dict[str, Any] = self.engines.view(inst)
        mtime = view.pop("status_mtime", None)
        return {**view, "classic": False, "symbols": self._symbols_of(inst),
                "directory": str(instance_dir(self.log_dir, inst.name)),
                "status_age_s": None if mtime is None else round(max(0.0, time.time() - mtime), 1),
                "problem": view.pop("status_problem", "")}

    def classic_view(self) -> dict[str, Any] | None:
        """The classic recorder, when it has been used here (its arguments, its status file, or a process)."""
        rec = self.recorder()
        if self.args is None and rec["status"] is None and self.supervisor is None:
            return None
        status = rec["status"] or {}
        return {"name": RECORDER, "kind": KIND, "classic": True, "enabled": True, "title": "Classic recorder",
                "symbols": list((self.args or {}).get("symbols") or status.get("symbols") or []),
                "directory": str(self.log_dir), "process": rec["process"], "status": rec["status"],
                "status_age_s": rec["status_age_s"], "problem": rec["problem"], "page": f"#/data/{RECORDER}"}

    def recorders(self) -> dict[str, Any]:
        """Every recorder: the classic one (if used) and every recorder instance of engines.json."""
        classic = self.classic_view()
        items = ([classic] if classic else []) + [self.recorder_view(i) for i in self._instances()]
        return {"recorders": items, "max_symbols": MAX_SYMBOLS, "log_dir": str(self.log_dir),
                "problem": self.engines.problem if self.engines is not None else ""}

    def add_recorder(self, payload: Any) -> dict[str, Any]:
        """A new recorder instance in engines.json: {"name", "symbols", "poll_time"?}. Checked by the kernel's
        rules (name, symbols, the symbols no other enabled recorder instance has)."""
        if not isinstance(payload, dict):
            raise DataInputError("give {\"name\": ..., \"symbols\": [...]}")
        if self.engines is None:
            raise DataInputError("engine instances are not available here")
        unknown = set(payload) - {"name", "symbols", "poll_time"}
        if unknown:
            raise DataInputError(f"unknown field(s) {', '.join(sorted(unknown))}: name, symbols, poll_time")
        settings: dict[str, Any] = {"SYMBOLS": parse_symbols(payload.get("symbols"))}
        if payload.get("poll_time") not in (None, "", 0):
            settings["POLL_TIME"] = payload["poll_time"]
        try:
            self.engines.create({"name": payload.get("name"), "kind": KIND, "settings": settings})
        except InstanceError as exc:
            raise DataInputError(str(exc)) from None
        return self.recorder_view(self.engines.get(str(payload.get("name"))))

    async def act(self, name: str, action: str, symbols: Any = None) -> dict[str, Any]:
        """start | stop | restart one recorder: the classic one through its supervisor, an instance through
        the engine service (its process, pid file and log like every engine)."""
        if action not in ACTIONS:
            raise DataInputError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
        if name == RECORDER:
            if action == "stop":
                return await self.stop_recorder()
            if action == "restart":
                await self.stop_recorder()
            return await self.start_recorder(symbols if symbols is not None else (self.args or {}).get("symbols"))
        inst = self._instance(name)
        if action != "stop":
            self._refuse_shared(name, self._symbols_of(inst))
        try:
            await self.engines.act(name, action)
        except InstanceError as exc:
            raise DataBusy(str(exc)) from None
        return self.recorder_view(inst)

    def _instance(self, name: str) -> Any:
        for inst in self._instances():
            if inst.name == name:
                return inst
        known = [RECORDER] if self.classic_view() else []
        known += [i.name for i in self._instances()]
        raise KeyError(f"no recorder {name!r}; recorders: {', '.join(known) or 'none yet'}")

    # ------------------------------------------------------------------ files and store
    def days(self) -> list[dict[str, Any]]:
        return csv_days(self.log_dir)

    async def _data(self, *args: str, timeout: float) -> str:
        argv = [self.python, "-m", "commands.main", "data", *args, "--store", str(self.store_dir)]
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE, cwd=self.cwd, env=self.env,
                                                    start_new_session=True)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            proc.kill()
            await proc.wait()
            raise StoreCommandError(f"mraster data {args[0]} took longer than {timeout:g} s; stopped") from None
        if proc.returncode != 0:
            text = err.decode("utf-8", "replace").strip() or out.decode("utf-8", "replace").strip()
            raise StoreCommandError(text[-2000:] if text else f"exit code {proc.returncode}")
        return out.decode("utf-8", "replace")

    def _store_stamp(self) -> float:
        db = self.store_dir / "market.duckdb"
        return db.stat().st_mtime if db.exists() else 0.0

    async def coverage(self) -> dict[str, Any]:
        """Coverage per symbol and day (cached until the store's database changes)."""
        stamp = self._store_stamp()
        if self._coverage is not None and self._coverage[0] == stamp:
            return self._coverage[1]
        rows: list[dict[str, Any]] = []
        if stamp and self._store_lock.locked():
            if self._coverage is not None:
                return dict(self._coverage[1], busy=True)
            raise DataBusy("the store is being loaded; coverage follows when it has finished")
        if stamp:
            async with self._store_lock:
                rows = json.loads(await self._data("coverage", "--format", "json", "--log-dir", str(self.log_dir),
                                                   timeout=QUERY_TIMEOUT_S))
        result = {"rows": rows, "store": str(self.store_dir), "exists": bool(stamp),
                  "symbols": sorted({r["symbol"] for r in rows}), "dates": sorted({r["date"] for r in rows})}
        self._coverage = (stamp, result)
        return result

    async def load(self, day: Any) -> dict[str, Any]:
        d = parse_day(day)
        if self._store_lock.locked():
            raise DataBusy("a store action is running; try again when it has finished")
        async with self._store_lock:
            out = await self._data("load", *(["--date", d] if d else []), "--log-dir", str(self.log_dir),
                                   timeout=LOAD_TIMEOUT_S)
        self._coverage = None
        return {"output": out}

    async def query(self, sql: Any, fmt: str = "json") -> Any:
        text = check_sql(sql)
        if fmt not in ("json", "csv"):
            raise DataInputError("format: json or csv")
        if not self._store_stamp():
            raise DataInputError("the store is empty: load a recorded day first")
        if self._store_lock.locked():
            raise DataBusy("a store action is running; try again when it has finished")
        async with self._store_lock:
            out = await self._data("query", text, "--format", fmt, "--read-only", timeout=QUERY_TIMEOUT_S)
        if fmt == "csv":
            return out
        rows = json.loads(out) if out.strip() else []
        columns = list(rows[0]) if rows else []
        return {"columns": columns, "rows": [[r[c] for c in columns] for r in rows[:MAX_QUERY_ROWS]],
                "row_count": len(rows), "truncated": len(rows) > MAX_QUERY_ROWS}
