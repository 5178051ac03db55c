"""Reading the recorder's CSV day files safely: only complete lines, with the seed's column types.

A recorder killed mid-write (SIGKILL, power cut) leaves a torn last line without its newline. Every
reader stops at the last newline (`complete_length`), so a torn row is never parsed, counted, or
glued onto; the next run of the recorder cuts it off before appending. The store streams batches
(`csv_batches`, bounded memory); the backtester reads a day at once (`read_csv_day`, multi-threaded).
"""
from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from mraster.marketdata.schema import Table

ARROW_TYPES = {"INT64": pa.int64(), "FLOAT64": pa.float64(), "STRING": pa.string(), "BOOL": pa.bool_(),
               "DATE": pa.date32()}


class CsvReadError(ValueError):
    """A CSV family file cannot be read as it is (wrong header, unreadable row); the message says which."""


def complete_length(path: Path) -> int:
    """Bytes of `path` up to and including its last newline (0 if there is none)."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb") as f:
        pos = size
        while pos > 0:
            step = min(65536, pos)
            f.seek(pos - step)
            chunk = f.read(step)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                return pos - step + nl + 1
            pos -= step
    return 0


def arrow_schema(table: Table, columns: Sequence[str] | None = None) -> pa.Schema:
    types = dict(table.columns)
    return pa.schema([(c, ARROW_TYPES[types[c]]) for c in (columns or table.names)])


def _convert_options(table: Table, columns: Sequence[str] | None) -> pacsv.ConvertOptions:
    schema = arrow_schema(table, columns)
    return pacsv.ConvertOptions(column_types=dict(zip(schema.names, schema.types)), include_columns=schema.names,
                                strings_can_be_null=False, null_values=[""], true_values=["true", "True"],
                                false_values=["false", "False"])


class _Limited(io.RawIOBase):
    """The first `limit` bytes of a file: readers never see a torn last line."""

    def __init__(self, path: Path, limit: int):
        self._f = open(path, "rb")  # noqa: SIM115 - closed by close(), the reader owns it
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._left <= 0:
            return 0
        n = self._f.readinto(memoryview(b)[:min(len(b), self._left)])
        self._left -= n
        return n

    def close(self) -> None:
        self._f.close()
        super().close()


def check_header(path: Path, table: Table, columns: Sequence[str] | None = None, count: bool = True) -> int:
    """Complete data lines of a family file (a torn tail has no newline, so it is not counted; 0 unless
    `count`). The header must be the table's columns; with `columns`, it must contain at least those
    (older or hand-made files)."""
    with open(path, "rb") as f:
        header = f.readline().decode("utf-8", "replace").rstrip("\r\n").split(",")
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) if count else 0
    if columns is None and header != table.names:
        raise CsvReadError(f"{path}: header is not the columns of table {table.name} (seed 002)")
    missing = [c for c in columns or () if c not in header]
    if missing:
        raise CsvReadError(f"{path}: columns {missing} of table {table.name} (seed 002) are missing")
    return lines


def csv_batches(path: Path, table: Table, end: int | None = None, block_size: int = 1 << 20,
                columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches of a family file with the seed's types, up to byte `end` (its last complete line):
    memory stays bounded by the block size, whatever the size of the day. `columns`: only those."""
    end = complete_length(path) if end is None else end
    # a torn tail is cut off by reading only the complete bytes (through Python, slower); else the path
    raw = _Limited(path, end) if end < os.path.getsize(path) else None
    source: Any = io.BufferedReader(raw, 1 << 20) if raw is not None else str(path)
    try:
        # single-threaded: the store converts the files in parallel already, and this costs less CPU
        reader = pacsv.open_csv(source, read_options=pacsv.ReadOptions(block_size=block_size, use_threads=False),
                                convert_options=_convert_options(table, columns))
        yield from reader
    except (pa.ArrowInvalid, ValueError) as exc:
        raise CsvReadError(f"{path}: unreadable row ({exc})") from None
    finally:
        if raw is not None:
            raw.close()


def read_csv_day(path: Path, table: Table, columns: Sequence[str] | None = None) -> tuple[pa.Table, int]:
    """(rows, their number) of one CSV family file, a torn last line dropped, a header-only or empty file
    giving no rows. `columns`: read only those (the header must contain them); else the
    header must be exactly the table's columns. For readers such as the backtester (`.to_pandas()`)."""
    schema = arrow_schema(table, columns)
    end = complete_length(path)
    if end == 0:
        return schema.empty_table(), 0
    check_header(path, table, columns, count=False)
    try:
        # the whole day at once, multi-threaded, over a memory map cut at the last complete line (no copy)
        with pa.memory_map(str(path)) as mm:
            rows = pacsv.read_csv(pa.BufferReader(mm.read_buffer(end)),
                                  read_options=pacsv.ReadOptions(use_threads=True),
                                  convert_options=_convert_options(table, columns))
    except (pa.ArrowInvalid, ValueError) as exc:
        raise CsvReadError(f"{path}: unreadable row ({exc})") from None
    return rows.select(schema.names), rows.num_rows
