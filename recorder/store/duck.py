"""The embedded analytic store: CSV days -> Parquet (partitioned by date and symbol) + a DuckDB database.

Layout under the store directory:
    parquet/<table>/date=YYYY-MM-DD/symbol=<SYMBOL>/data.parquet
    market.duckdb      views named as the seed's tables over those files, and `_loads` (what was
                       loaded from which CSV file, with row counts and the verification result)
Loading a day rewrites that day's partitions as a whole (built aside, then swapped in), so loading
twice never doubles a row. A load is verified by reading the Parquet row counts back and comparing
them with the CSV's complete lines; a torn last line (a killed recorder) is not loaded.

A day's files come from every recorder directory under the log directory (`mraster.marketdata.dirs`:
the classic recorder's and each instance's `recorders/<name>/`), loaded together into one partition per
table, one load record per file. Recorder instances never share a symbol (the dashboard refuses it);
should two directories still hold one symbol on one day (the classic recorder and an instance, or an
instance whose symbols were changed), the first directory's rows of that symbol are kept and the
others' are skipped and counted in the load's note, so no second is ever stored twice.
"""
from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mraster.marketdata.csvread import (
    ARROW_TYPES,
    CsvReadError,
    check_header,
    complete_length,
    csv_batches,
)
from mraster.marketdata.dirs import recorder_dirs
from mraster.marketdata.schema import DUCKDB_TYPES, TABLES, Table, day_files
from recorder.gaps import GAPS

ALL_TABLES: tuple[Table, ...] = (*TABLES, GAPS)
# dictionary encoding only where values repeat (on prices it costs 3x the CPU and makes bigger files);
# min/max statistics where queries filter
_DICT_COLUMNS = ("symbol", "date", "hour", "minute", "second", "kind", "stream", "k1_closed")
_STAT_COLUMNS = ("ts_unix_ms", "symbol", "date", "hour", "minute", "second", "start_ms", "end_ms")
ALL_SYMBOLS = "ALL"         # partition name of rows whose symbol is "*" (gaps of every symbol)


class StoreError(RuntimeError):
    """A CSV file cannot be loaded as it is (wrong header, unreadable row); the message says which."""


@dataclass
class TableLoad:
    table: str
    day: str
    csv_path: str
    csv_rows: int
    parquet_rows: int
    symbols: int
    verified: bool
    note: str = ""


def _day_iso(day: str) -> str:
    return f"{day[:4]}-{day[4:6]}-{day[6:]}"


class _SymbolWriters:
    """One Parquet file per symbol, fed batch by batch; rows are gathered to `ROW_GROUP` rows per group."""

    ROW_GROUP = 32_768
    MAX_PENDING = 131_072           # rows held across all symbols (bounds memory with many symbols)

    def __init__(self, build: Path, table: Table):
        self.build, self.table = build, table
        self.schema = pa.schema([(c, ARROW_TYPES[t]) for c, t in table.columns])
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.pending: dict[str, list[pa.RecordBatch]] = {}
        self.rows: dict[str, int] = {}

    def add(self, batch: pa.RecordBatch) -> None:
        symbols = batch.column(batch.schema.get_field_index("symbol"))
        for sym in pc.unique(symbols).to_pylist():
            part = batch.filter(pc.equal(symbols, sym))
            self.pending.setdefault(sym, []).append(part)
            self.rows[sym] = self.rows.get(sym, 0) + part.num_rows
            if sum(b.num_rows for b in self.pending[sym]) >= self.ROW_GROUP:
                self._flush(sym)
        if sum(b.num_rows for bs in self.pending.values() for b in bs) > self.MAX_PENDING:
            biggest = max(self.pending, key=lambda k: sum(b.num_rows for b in self.pending[k]))
            self._flush(biggest)

    def _flush(self, sym: str) -> None:
        batches = self.pending.pop(sym, [])
        if not batches:
            return
        writer = self.writers.get(sym)
        if writer is None:
            out = self.build / f"symbol={ALL_SYMBOLS if sym == '*' else sym}"
            out.mkdir()
            writer = self.writers[sym] = pq.ParquetWriter(
                out / "data.parquet", self.schema, compression="zstd", compression_level=1,
                use_dictionary=[c for c in _DICT_COLUMNS if c in self.table.names],
                write_statistics=[c for c in _STAT_COLUMNS if c in self.table.names])
        writer.write_table(pa.Table.from_batches(batches, schema=self.schema), row_group_size=self.ROW_GROUP)

    def close(self) -> int:
        for sym in list(self.pending):
            self._flush(sym)
        for w in self.writers.values():
            w.close()
        return len(self.writers)


class Store:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.parquet = self.root / "parquet"
        self.db_path = self.root / "market.duckdb"

    # ------------------------------------------------------------------ database
    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        self.root.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.db_path), read_only=read_only)
        if not read_only:
            con.execute("CREATE TABLE IF NOT EXISTS _loads (day VARCHAR, table_name VARCHAR, csv_path VARCHAR, "
                        "csv_bytes BIGINT, csv_rows BIGINT, parquet_rows BIGINT, symbols INTEGER, "
                        "verified BOOLEAN, loaded_at TIMESTAMP)")
            self.refresh_views(con)
        return con

    def refresh_views(self, con: duckdb.DuckDBPyConnection) -> None:
        """One view per table over its Parquet files (an empty view with the seed's columns if none yet)."""
        for t in ALL_TABLES:
            files = list((self.parquet / t.name).glob("date=*/symbol=*/data.parquet"))
            if files:
                glob = (self.parquet / t.name).resolve().as_posix() + "/date=*/symbol=*/data.parquet"
                con.execute(f"CREATE OR REPLACE VIEW {t.name} AS SELECT * FROM "
                            f"read_parquet('{glob}', hive_partitioning = false)")
            else:
                cols = ", ".join(f"CAST(NULL AS {DUCKDB_TYPES[ty]}) AS {c}" for c, ty in t.columns)
                con.execute(f"CREATE OR REPLACE VIEW {t.name} AS SELECT {cols} WHERE false")

    # ------------------------------------------------------------------ load
    @staticmethod
    def csv_days(log_dir: Path | str) -> list[str]:
        """Every day with a CSV file in any recorder directory under `log_dir`."""
        return sorted({day for _, d in recorder_dirs(log_dir) for t in ALL_TABLES for day in day_files(d, t)})

    @staticmethod
    def day_sources(log_dir: Path | str, day: str, table: Table) -> list[Path]:
        """The table's CSV files of `day`, one per recorder directory that has one (classic first)."""
        return [p for _, d in recorder_dirs(log_dir) if (p := d / table.csv_name(day)).exists()]

    def load_day(self, log_dir: Path | str, day: str) -> list[TableLoad]:
        """Load every family file of `day` from every recorder directory (idempotent), verify row counts,
        record the result (one record per file)."""
        todo = [(t, paths) for t in ALL_TABLES if (paths := self.day_sources(log_dir, day, t))]
        todo.sort(key=lambda tp: -sum(p.stat().st_size for p in tp[1]))            # big first
        # files are converted in parallel (pyarrow works outside the GIL); the database is written after
        with ThreadPoolExecutor(max_workers=max(1, min(len(todo), os.cpu_count() or 1))) as pool:
            built = list(pool.map(lambda tp: self._build(tp[1], tp[0], day), todo))
        results = []
        con = self.connect()
        try:
            for (t, _), b in zip(todo, built):
                results.append(self._swap_in(con, t, day, b))
            self.refresh_views(con)
        finally:
            con.close()
        order = [t.name for t in ALL_TABLES]
        return sorted(results, key=lambda r: order.index(r.table))

    def _build(self, paths: list[Path], t: Table, day: str) -> "_Built":
        """Parquet partitions of one table's files of a day, built aside. Each file is streamed (bounded
        memory) and is in time order; a symbol comes from one file only (the first that has it), so each
        symbol's Parquet file is in time order too."""
        build = self.parquet / t.name / f"date={_day_iso(day)}.building-{os.getpid()}"
        shutil.rmtree(build, ignore_errors=True)
        build.mkdir(parents=True)
        writers = _SymbolWriters(build, t)
        owner: dict[str, int] = {}
        out = _Built(build, [])
        try:
            for i, path in enumerate(paths):
                end = complete_length(path)
                src = _Source(path, end, check_header(path, t) if end else 0)
                before = sum(writers.rows.values())
                for batch in csv_batches(path, t, end) if end else ():
                    batch, dropped, foreign = _own_rows(batch, owner, i)
                    src.skipped += dropped
                    src.skipped_symbols.update(foreign)
                    if batch.num_rows:
                        writers.add(batch)
                src.kept = sum(writers.rows.values()) - before
                out.sources.append(src)
                if src.kept + src.skipped != src.lines:
                    raise StoreError(f"{path}: {src.lines} lines but {src.kept + src.skipped} rows parsed; not loaded")
        except CsvReadError as exc:
            writers.close()
            shutil.rmtree(build, ignore_errors=True)
            raise StoreError(f"{exc}; not loaded") from None
        except StoreError:
            writers.close()
            shutil.rmtree(build, ignore_errors=True)
            raise
        out.n_symbols = writers.close()
        return out

    def _swap_in(self, con: duckdb.DuckDBPyConnection, t: Table, day: str, b: "_Built") -> TableLoad:
        target = self.parquet / t.name / f"date={_day_iso(day)}"
        # swap the day in: the old partitions go only once the new ones are complete
        old = target.with_name(target.name + f".old-{os.getpid()}")
        if target.exists():
            os.replace(target, old)
        if b.build.exists():
            os.replace(b.build, target)
        shutil.rmtree(old, ignore_errors=True)
        written = sum(pq.ParquetFile(p).metadata.num_rows for p in target.glob("symbol=*/data.parquet")) \
            if target.exists() else 0
        kept = sum(src.kept for src in b.sources)
        verified = written == kept and all(src.kept + src.skipped == src.lines for src in b.sources)
        con.execute("DELETE FROM _loads WHERE day = ? AND table_name = ?", [day, t.name])
        when = datetime.now(timezone.utc).replace(tzinfo=None)
        for src in b.sources:
            con.execute("INSERT INTO _loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [day, t.name, str(src.path.resolve()), src.end, src.lines, src.kept, b.n_symbols,
                         verified, when])
        notes = []
        for src in b.sources:
            torn = src.path.stat().st_size - src.end
            if torn:
                notes.append(f"{torn} bytes of a torn last line skipped in {src.path.parent.name}/{src.path.name}")
            if src.skipped:
                notes.append(f"{src.skipped} rows of {', '.join(sorted(src.skipped_symbols))} in "
                             f"{src.path.parent.name}/ skipped (an earlier recorder directory has that symbol)")
        if len(b.sources) > 1:
            notes.append(f"{len(b.sources)} recorder directories")
        return TableLoad(t.name, day, ", ".join(str(src.path) for src in b.sources),
                         sum(src.lines for src in b.sources), written, b.n_symbols, verified, "; ".join(notes))

    def pending_days(self, log_dir: Path | str) -> list[str]:
        """CSV days with a file not loaded, not verified, or grown since it was loaded."""
        loads = self.loads() if self.db_path.exists() else {}
        out = []
        for day in self.csv_days(log_dir):
            for t in ALL_TABLES:
                if any(self._load_problem(loads, day, t, p) for p in self.day_sources(log_dir, day, t)):
                    out.append(day)
                    break
        return out

    @staticmethod
    def _load_problem(loads: dict[tuple[str, str, str], dict], day: str, t: Table, path: Path) -> str:
        rec = loads.get((day, t.name, str(path.resolve())))
        if rec is None:
            return "not loaded"
        if not rec["verified"]:
            return "loaded but not verified"
        if rec["csv_bytes"] != complete_length(path):
            return "changed since it was loaded"
        return ""

    # ------------------------------------------------------------------ query
    def query(self, sql: str, read_only: bool = False) -> tuple[list[str], list[tuple]]:
        """`read_only`: nothing the SQL does can change the store (the dashboard's queries)."""
        con = self.connect(read_only=read_only)
        try:
            cur = con.execute(sql)
            cols = [d[0] for d in cur.description] if cur.description else []
            return cols, cur.fetchall() if cols else []
        finally:
            con.close()

    def loads(self) -> dict[tuple[str, str, str], dict]:
        """Load records by (day, table, CSV file)."""
        cols, rows = self.query("SELECT * FROM _loads")
        return {(r[0], r[1], r[2]): dict(zip(cols, r)) for r in rows}

    def loaded_days(self) -> set[str]:
        return {day for day, _, _ in self.loads()} if self.db_path.exists() else set()

    def coverage(self) -> list[dict]:
        """Per symbol and day: rows per table, first/last second, share of the day covered, gap seconds."""
        con = self.connect()
        try:
            per: dict[tuple[str, str], dict] = {}
            for t in TABLES:
                for date, sym, n, first, last in con.execute(
                        f"SELECT CAST(date AS VARCHAR), symbol, count(*), min(ts_unix_ms), max(ts_unix_ms) "
                        f"FROM {t.name} GROUP BY ALL").fetchall():
                    row = per.setdefault((date, sym), {"date": date, "symbol": sym})
                    row[f"{t.name}_rows"] = n
                    row["first_utc"] = min(row.get("first_utc", first), first)
                    row["last_utc"] = max(row.get("last_utc", last), last)
            gaps: dict[str, list[tuple[str, str, float]]] = {}
            for sym, kind, start, end in con.execute("SELECT symbol, kind, start_ms, end_ms FROM gaps").fetchall():
                for date, secs in split_by_day(int(start), int(end)):      # a gap over midnight counts on both days
                    gaps.setdefault(date, []).append((sym, kind, secs))
        finally:
            con.close()
        out = []
        for (date, sym), row in sorted(per.items()):
            secs = row.get("agg_trade_1s_rows", 0)
            span = (row["last_utc"] - row["first_utc"]) // 1000 + 1
            for t in TABLES:
                row.setdefault(f"{t.name}_rows", 0)
            g = [(k, s) for gs, k, s in gaps.get(date, []) if gs in (sym, "*")]
            row.update(day_pct=round(100.0 * secs / 86400, 2), span_pct=round(100.0 * secs / span, 2),
                       gap_seconds=round(sum(s for k, s in g if k in ("missing_seconds", "recorder_down")), 1),
                       stale_seconds=round(sum(s for k, s in g if k == "stale"), 1),
                       reconnects=sum(1 for k, _ in g if k == "reconnect"),
                       first_utc=_utc(row["first_utc"]), last_utc=_utc(row["last_utc"]))
            out.append(row)
        return out

    # ------------------------------------------------------------------ cleanup
    def cleanup(self, log_dir: Path | str, retention_days: int, *, dry_run: bool = False,
                today: str | None = None) -> tuple[list[Path], list[str]]:
        """(files deleted or to delete, days kept with the reason). Only days older than the retention whose
        every family file was loaded, verified and not changed since are deleted; never today's."""
        if retention_days < 1:
            raise StoreError("--retention-days must be at least 1 (today is never deleted)")
        today = today or datetime.now(timezone.utc).strftime("%Y%m%d")
        cutoff = (datetime.strptime(today, "%Y%m%d") - timedelta(days=retention_days)).strftime("%Y%m%d")
        loads = self.loads()
        doomed: list[Path] = []
        kept: list[str] = []
        for day in self.csv_days(log_dir):
            if day >= today or day >= cutoff:
                continue
            files = [(t, p) for t in ALL_TABLES for p in self.day_sources(log_dir, day, t)]
            problems = [f"{_shown(log_dir, p)} {why}" for t, p in files
                        if (why := self._load_problem(loads, day, t, p))]
            if problems:
                kept.append(f"{day}: kept ({'; '.join(problems)})")
                continue
            doomed += [p for _, p in files]
        if not dry_run:
            for p in doomed:
                p.unlink()
        return doomed, kept


@dataclass
class _Source:
    """One CSV file of a table's day: complete bytes, lines, rows kept, rows skipped (symbol elsewhere)."""
    path: Path
    end: int
    lines: int
    kept: int = 0
    skipped: int = 0
    skipped_symbols: set[str] = field(default_factory=set)


@dataclass
class _Built:
    build: Path
    sources: list[_Source]
    n_symbols: int = 0


def _own_rows(batch: pa.RecordBatch, owner: dict[str, int],
              source: int) -> tuple[pa.RecordBatch, int, list[str]]:
    """The rows of `batch` whose symbol belongs to `source` (the first source that had it; "*", gaps of
    every symbol, belongs to each), the number of rows dropped and the symbols they had."""
    symbols = batch.column(batch.schema.get_field_index("symbol"))
    foreign = [sym for sym in pc.unique(symbols).to_pylist()
               if sym != "*" and owner.setdefault(sym, source) != source]
    if not foreign:
        return batch, 0, []
    keep = pc.invert(pc.is_in(symbols, value_set=pa.array(foreign, pa.string())))
    kept = batch.filter(keep)
    return kept, batch.num_rows - kept.num_rows, foreign


def _shown(log_dir: Path | str, path: Path) -> str:
    try:
        return str(path.relative_to(log_dir))
    except ValueError:
        return path.name


def split_by_day(start_ms: int, end_ms: int) -> list[tuple[str, float]]:
    """[(YYYY-MM-DD, seconds)] of the interval [start_ms, end_ms) in each UTC day it touches; an instant
    (a reconnect) is one entry of 0 s on its day."""
    day_ms = 86_400_000
    if end_ms <= start_ms:
        return [(_utc(start_ms)[:10], 0.0)]
    out = []
    day = start_ms // day_ms * day_ms
    while day < end_ms:
        lo, hi = max(start_ms, day), min(end_ms, day + day_ms)
        out.append((_utc(day)[:10], (hi - lo) / 1000.0))
        day += day_ms
    return out


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

