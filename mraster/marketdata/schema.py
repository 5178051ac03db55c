"""The five market tables of seed 002: one source of truth for the recorder (CSV writer, store, exporter)
and the backtester (reader), which share it here in the kernel.

Column names, order and BigQuery types are exactly the seed's `CREATE TABLE` statements (`kline`,
`book_ticker`, `mark_price`, `agg_trade_1s`, `depth5`); the CSV families are named as the seed names
its log files (`kline_YYYYMMDD.csv`, `bookTicker_YYYYMMDD.csv`, ...). Writer and readers take the names
from here, so they cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_TIME = (("ts_unix_ms", "INT64"), ("ts_dt_utc", "STRING"), ("symbol", "STRING"))
_PARTS = (("date", "DATE"), ("hour", "INT64"), ("minute", "INT64"), ("second", "INT64"))


@dataclass(frozen=True)
class Table:
    name: str          # table name (seed 002 DDL), e.g. book_ticker
    family: str        # CSV family (seed 002 log file prefix), e.g. bookTicker
    stream: str        # the stream kind that feeds it (cache staleness key)
    columns: tuple[tuple[str, str], ...]     # (column, BigQuery type), in order

    @property
    def names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def csv_name(self, day: str) -> str:
        """`day` is YYYYMMDD."""
        return f"{self.family}_{day}.csv"


def _table(name: str, family: str, stream: str, body: tuple[tuple[str, str], ...]) -> Table:
    return Table(name, family, stream, _TIME + body + _PARTS)


KLINE = _table("kline", "kline", "kline_1m", (
    ("k1_start_ms", "INT64"), ("k1_close_ms", "INT64"), ("k1_open", "FLOAT64"), ("k1_high", "FLOAT64"),
    ("k1_low", "FLOAT64"), ("k1_close", "FLOAT64"), ("k1_base_vol", "FLOAT64"), ("k1_quote_vol", "FLOAT64"),
    ("k1_trades", "INT64"), ("k1_closed", "BOOL")))
BOOK_TICKER = _table("book_ticker", "bookTicker", "bookTicker", (
    ("bid_px", "FLOAT64"), ("bid_qty", "FLOAT64"), ("ask_px", "FLOAT64"), ("ask_qty", "FLOAT64"),
    ("spread", "FLOAT64"), ("mid", "FLOAT64"), ("imbalance", "FLOAT64"), ("weighted_mid", "FLOAT64")))
MARK_PRICE = _table("mark_price", "markPrice", "markPrice@1s", (
    ("mark_px", "FLOAT64"), ("index_px", "FLOAT64"), ("funding_rate", "FLOAT64"),
    ("next_funding_time_ms", "INT64"), ("mark_index_bps", "FLOAT64")))
AGG_TRADE_1S = _table("agg_trade_1s", "aggTrade_1s", "aggTrade", (
    ("n_trades_1s", "INT64"), ("sum_qty_1s", "FLOAT64"), ("vwap_1s", "FLOAT64"), ("buy_qty_1s", "FLOAT64"),
    ("sell_qty_1s", "FLOAT64"), ("buy_notional_1s", "FLOAT64"), ("sell_notional_1s", "FLOAT64")))
DEPTH5 = _table("depth5", "depth5", "depth5@100ms", tuple(
    [(f"bid{i}_px", "FLOAT64") for i in range(1, 6)] + [(f"bid{i}_qty", "FLOAT64") for i in range(1, 6)]
    + [(f"ask{i}_px", "FLOAT64") for i in range(1, 6)] + [(f"ask{i}_qty", "FLOAT64") for i in range(1, 6)]
    + [("obi5", "FLOAT64")]))

TABLES: tuple[Table, ...] = (KLINE, BOOK_TICKER, MARK_PRICE, AGG_TRADE_1S, DEPTH5)
BY_NAME = {t.name: t for t in TABLES}
BY_FAMILY = {t.family: t for t in TABLES}
STREAM_KINDS: tuple[str, ...] = tuple(t.stream for t in TABLES)

# BigQuery type -> DuckDB type (the local store keeps the seed's schema with the nearest native types)
DUCKDB_TYPES = {"INT64": "BIGINT", "FLOAT64": "DOUBLE", "STRING": "VARCHAR", "BOOL": "BOOLEAN", "DATE": "DATE"}


def ddl(table: Table, project: str = "<PROJECT_ID>", dataset: str = "aster") -> str:
    """The seed's BigQuery DDL for `table` (partitioned by date, clustered by symbol and time)."""
    cols = ",\n".join(f"  {c} {t}" for c, t in table.columns)
    return (f"CREATE TABLE IF NOT EXISTS `{project}.{dataset}.{table.name}` (\n{cols}\n)\n"
            "PARTITION BY date\nCLUSTER BY symbol, hour, minute, second;")


def parse_ddl(sql: str) -> dict[str, list[tuple[str, str]]]:
    """`CREATE TABLE ... (col TYPE, ...)` statements -> {table: [(col, TYPE), ...]}: used to check the local
    schema against DDL text (seed 002's, or the one a user keeps in their warehouse)."""
    import re
    out: dict[str, list[tuple[str, str]]] = {}
    for m in re.finditer(r"CREATE TABLE IF NOT EXISTS\s+`?[\w<>\-.]*?\.?(\w+)`?\s*\((.*?)\)\s*PARTITION", sql,
                         re.DOTALL | re.IGNORECASE):
        cols = []
        for line in m.group(2).split(","):
            parts = line.split()
            if len(parts) >= 2:
                cols.append((parts[0], parts[1].upper()))
        out[m.group(1)] = cols
    return out


def day_files(log_dir: Path | str, table: Table) -> dict[str, Path]:
    """{YYYYMMDD: path} of the table's dated CSV files in `log_dir` (`<family>_YYYYMMDD.csv`), by day."""
    out = {}
    for p in Path(log_dir).glob(f"{table.family}_[0-9]*.csv"):
        day = p.stem[len(table.family) + 1:]
        if len(day) == 8 and day.isdigit():
            out[day] = p
    return dict(sorted(out.items()))
