"""Gaps are data: reconnects, missing seconds and stale streams, one row each in `gaps_YYYYMMDD.csv`.

Kinds:
  missing_seconds  seconds with no row for a symbol while the recorder ran (it fell behind, or the
                   venue clock jumped forward);
  recorder_down    seconds between the last row a previous run wrote and the first row of this run
                   (a crash, a kill, a restart);
  stale            a stream of a symbol sent nothing for longer than its threshold (start..end);
  reconnect        a market connection was re-established (its streams re-seeded over REST);
  torn_tail        a killed run left half a line; the bytes were cut (detail says how many).
A gap row is written to the file of the day it was detected; start_ms/end_ms say what it covers.
"""
from __future__ import annotations

from dataclasses import dataclass

from mraster.exchange.market_cache import BOOK, DEPTH, KLINE, MARK, TRADE
from mraster.marketdata.schema import Table
from recorder.rows import fmt, time_columns

GAPS = Table("gaps", "gaps", "", (
    ("ts_unix_ms", "INT64"), ("ts_dt_utc", "STRING"), ("symbol", "STRING"), ("kind", "STRING"),
    ("stream", "STRING"), ("start_ms", "INT64"), ("end_ms", "INT64"), ("seconds", "FLOAT64"),
    ("detail", "STRING"), ("date", "DATE")))

# seconds of silence after which a stream counts as stale (venue rates: depth 100 ms, mark 1 s; book
# ticker, klines and trades only move when the market does, so a quiet symbol gets more slack)
STALE_AFTER_S = {DEPTH: 3.0, MARK: 5.0, BOOK: 30.0, KLINE: 30.0, TRADE: 300.0}


@dataclass(frozen=True)
class Gap:
    symbol: str
    kind: str
    stream: str
    start_ms: int
    end_ms: int
    detail: str = ""

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end_ms - self.start_ms) / 1000.0)

    def line(self, now_ms: int) -> str:
        dt, date, *_ = time_columns(now_ms)
        detail = self.detail.replace(",", ";").replace("\n", " ")
        values = [now_ms, dt, self.symbol, self.kind, self.stream, self.start_ms, self.end_ms, self.seconds,
                  detail, date]
        return ",".join(fmt(v) for v in values) + "\n"

    def as_dict(self) -> dict:
        return {"symbol": self.symbol, "kind": self.kind, "stream": self.stream, "start_ms": self.start_ms,
                "end_ms": self.end_ms, "seconds": self.seconds, "detail": self.detail}


class GapTracker:
    """Pure bookkeeping: which streams are stale now, and the gap rows to write."""

    def __init__(self, symbols: list[str], stale_after_s: dict[str, float] | None = None):
        self.symbols = symbols
        self.stale_after = dict(STALE_AFTER_S, **(stale_after_s or {}))
        self.open_stale: dict[tuple[str, str], int] = {}     # (symbol, stream) -> start ms

    @staticmethod
    def missing(symbol: str, last_ts: int, ts: int, kind: str = "missing_seconds", detail: str = "") -> Gap | None:
        """Seconds strictly between two written rows ([start, end) in ms), or None when they are adjacent."""
        if ts - last_ts <= 1000:
            return None
        return Gap(symbol, kind, "*", last_ts + 1000, ts, detail or f"{(ts - last_ts) // 1000 - 1} s")

    def check_stale(self, now_ms: int, staleness: dict[str, dict[str, float | None]],
                    started_ms: int) -> list[Gap]:
        """Open stale intervals for silent streams; close (and return) those that spoke again."""
        closed: list[Gap] = []
        for symbol, ages in staleness.items():
            for stream, age in ages.items():
                limit = self.stale_after.get(stream)
                if limit is None:
                    continue
                key = (symbol, stream)
                silent = (now_ms - started_ms) / 1000.0 if age is None else age
                if silent > limit:
                    self.open_stale.setdefault(key, now_ms - int(silent * 1000))
                elif key in self.open_stale:
                    start = self.open_stale.pop(key)
                    closed.append(Gap(symbol, "stale", stream, start, now_ms - int((age or 0) * 1000),
                                      f"silent > {limit:g} s"))
        return closed

    def close_all(self, now_ms: int) -> list[Gap]:
        out = [Gap(s, "stale", st, start, now_ms, "still silent at shutdown")
               for (s, st), start in sorted(self.open_stale.items())]
        self.open_stale.clear()
        return out

    def stale_now(self) -> list[dict]:
        return [{"symbol": s, "stream": st, "since_ms": start} for (s, st), start in sorted(self.open_stale.items())]
