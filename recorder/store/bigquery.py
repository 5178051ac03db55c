"""Optional export of the Parquet partitions to BigQuery (extra `bigquery` = google-cloud-bigquery).

One load job per table and day: the day's Parquet files into the partition `table$YYYYMMDD`
with WRITE_TRUNCATE, so exporting a day twice replaces it (the same idempotency as `data load`).
The tables must exist (seed 002's DDL, `seed002_bigquery.sql`); `--dry-run` prints the jobs and checks
the local Parquet schema against that DDL without importing the library or touching the network.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mraster.marketdata.schema import TABLES, parse_ddl
from recorder.store.duck import Store

SEED_DDL = Path(__file__).with_name("seed002_bigquery.sql")
_BQ_OF_ARROW = {pa.int64(): "INT64", pa.float64(): "FLOAT64", pa.string(): "STRING", pa.large_string(): "STRING",
                pa.bool_(): "BOOL", pa.date32(): "DATE"}


class ExportError(RuntimeError):
    pass


@dataclass
class LoadJob:
    table: str
    day: str
    destination: str           # project.dataset.table$YYYYMMDD
    files: list[Path]
    rows: int

    def describe(self) -> str:
        return (f"LOAD {len(self.files)} parquet file(s), {self.rows} rows -> {self.destination} "
                f"(source_format=PARQUET, write_disposition=WRITE_TRUNCATE)")


def plan(store: Store, project: str, dataset: str, day: str | None = None) -> list[LoadJob]:
    jobs = []
    for t in TABLES:
        for d in sorted((store.parquet / t.name).glob("date=*")):
            if not d.is_dir() or "." in d.name:
                continue
            iso = d.name[len("date="):]
            ymd = iso.replace("-", "")
            if day and ymd != day:
                continue
            files = sorted(d.glob("symbol=*/data.parquet"))
            rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
            jobs.append(LoadJob(t.name, ymd, f"{project}.{dataset}.{t.name}${ymd}", files, rows))
    return jobs


def check_schema(store: Store, ddl_text: str | None = None) -> list[str]:
    """Differences between the local Parquet files (and the local table definitions) and the DDL."""
    ddl = parse_ddl(ddl_text if ddl_text is not None else SEED_DDL.read_text())
    problems = []
    for t in TABLES:
        want = ddl.get(t.name)
        if want is None:
            problems.append(f"{t.name}: not in the DDL")
            continue
        if list(t.columns) != want:
            problems.append(f"{t.name}: local definition {t.columns} differs from the DDL {want}")
        for f in sorted((store.parquet / t.name).glob("date=*/symbol=*/data.parquet")):
            schema = pq.read_schema(f)
            got = [(field.name, _BQ_OF_ARROW.get(field.type, str(field.type))) for field in schema]
            if got != want:
                problems.append(f"{f}: columns {got} differ from the DDL {want}")
    return problems


def export(jobs: list[LoadJob], project: str) -> list[str]:
    try:
        from google.cloud import bigquery  # type: ignore[import-not-found]
    except ModuleNotFoundError:
        raise ExportError("the BigQuery exporter needs google-cloud-bigquery: pip install 'mraster[bigquery]'") \
            from None
    client = bigquery.Client(project=project)
    config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.PARQUET,
                                    write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE)
    done = []
    for job in jobs:
        first = True
        for f in job.files:
            cfg = config if first else bigquery.LoadJobConfig(
                source_format=bigquery.SourceFormat.PARQUET,
                write_disposition=bigquery.WriteDisposition.WRITE_APPEND)
            with open(f, "rb") as fh:
                client.load_table_from_file(fh, job.destination, job_config=cfg).result()
            first = False
        done.append(job.describe())
    return done
