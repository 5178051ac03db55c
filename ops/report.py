"""What the reports say (seed 002's email_daily_report.py), gathered from the real files.

- production: the service status, the trades closed in the UTC day per symbol with realised-PnL
  statistics (from the SQLite journal's `trades` table: net = realized_pnl - fees + funding, as the
  bot computes it), and runtime issues found in the JSON-lines logs of that day (errors, warnings,
  timeouts, connection closes, tracebacks: counts and samples).
- backtest: the top 10 configurations per symbol of `ranked_metrics.csv`.
Gathering reads files only; rendering is in render.py.
"""
from __future__ import annotations

import csv
import json
import sqlite3
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

from mraster.logs import redact

ISSUE_KINDS = ("errors", "warnings", "timeouts", "connection_closes", "tracebacks")
SAMPLES = 3
TOP_N = 10


class ReportError(Exception):
    """A report cannot be built (missing or unreadable input); the message says which file and why."""


@dataclass
class SymbolStats:
    symbol: str
    trades: int
    wins: int
    losses: int
    net_pnl: float
    gross_pnl: float
    fees: float
    funding: float
    best: float
    worst: float
    mean: float
    median: float

    @property
    def win_rate(self) -> float:
        return self.wins / self.trades if self.trades else 0.0


@dataclass
class Issues:
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in ISSUE_KINDS})
    samples: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in ISSUE_KINDS})
    lines_read: int = 0
    unreadable_lines: int = 0


@dataclass
class ProdReport:
    day: date
    status: list[tuple[str, str]]
    symbols: list[SymbolStats]
    trades: list[dict[str, Any]]           # closed trades of the day, in exit order
    issues: Issues
    journal: str
    notes: list[str] = field(default_factory=list)

    @property
    def net_pnl(self) -> float:
        return sum(s.net_pnl for s in self.symbols)


@dataclass
class BacktestReport:
    ranked_csv: str
    status: list[tuple[str, str]]
    window: str
    columns: list[str]
    top: dict[str, list[dict[str, str]]]    # symbol -> up to TOP_N rows, best first


def day_bounds_ms(day: date) -> tuple[int, int]:
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return int(start.timestamp() * 1000), int((start + timedelta(days=1)).timestamp() * 1000)


def _num(text: Any) -> Decimal:
    if text is None or text == "":
        return Decimal(0)
    try:
        return Decimal(str(text))
    except InvalidOperation:
        return Decimal(0)


def closed_trades(journal: Path, day: date) -> list[dict[str, Any]]:
    """Trades of the journal closed in the UTC day (read-only; a missing journal is an error)."""
    if not journal.is_file():
        raise ReportError(f"journal {journal} not found (ASTER_JOURNAL_FILE)")
    lo, hi = day_bounds_ms(day)
    try:
        con = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=10)
        try:
            cur = con.execute(
                "SELECT trade_id, symbol, side, exit_time_ms, exit_reason, realized_pnl, fees, funding, "
                "r_multiple, entry_price, exit_price FROM trades WHERE status = 'closed' AND exit_time_ms >= ? "
                "AND exit_time_ms < ? ORDER BY exit_time_ms, trade_id", (lo, hi))
            cols = [c[0] for c in cur.description]
            rows = [dict(zip(cols, r)) for r in cur.fetchall()]
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise ReportError(f"journal {journal}: {exc}") from None
    for r in rows:
        net = _num(r["realized_pnl"]) - _num(r["fees"]) + _num(r["funding"])
        r["net_pnl"] = float(net)
    return rows


def symbol_stats(trades: Iterable[dict[str, Any]]) -> list[SymbolStats]:
    by: dict[str, list[dict[str, Any]]] = {}
    for t in trades:
        by.setdefault(t["symbol"], []).append(t)
    out = []
    for symbol in sorted(by):
        rows = by[symbol]
        nets = [r["net_pnl"] for r in rows]
        out.append(SymbolStats(
            symbol=symbol, trades=len(rows), wins=sum(1 for n in nets if n > 0), losses=sum(1 for n in nets if n < 0),
            net_pnl=round(sum(nets), 8), gross_pnl=float(sum(_num(r["realized_pnl"]) for r in rows)),
            fees=float(sum(_num(r["fees"]) for r in rows)), funding=float(sum(_num(r["funding"]) for r in rows)),
            best=max(nets), worst=min(nets), mean=statistics.fmean(nets), median=statistics.median(nets)))
    return out


def _kinds(line: dict[str, Any]) -> list[str]:
    level = str(line.get("level", "")).upper()
    text = f"{line.get('event', '')} {line.get('msg', '')} {line.get('error', '')}".lower()
    kinds = []
    if level in ("ERROR", "CRITICAL"):
        kinds.append("errors")
    elif level == "WARNING":
        kinds.append("warnings")
    if "timeout" in text or "timed out" in text:
        kinds.append("timeouts")
    if any(k in text for k in ("connection closed", "connection reset", "closed", "disconnect", "dropped")):
        kinds.append("connection_closes")
    if line.get("exc") or "traceback (most recent call last)" in text:
        kinds.append("tracebacks")
    return kinds


def log_files(log_dir: Path) -> list[Path]:
    """Every process's JSON-lines log with its rotated copies (`bot.jsonl`, `bot.jsonl.1`, ...)."""
    if not log_dir.is_dir():
        return []
    return sorted(p for p in log_dir.iterdir() if p.is_file() and (p.suffix == ".jsonl" or ".jsonl." in p.name))


def scan_issues(log_dir: Path, day: date, sources: tuple[str, ...] = ()) -> Issues:
    """Count and sample the day's problems in the logs (only INFO lines that name a timeout or a
    closed connection count besides warnings and errors; the `ops` log itself is included)."""
    issues = Issues()
    prefix = day.isoformat()
    for path in log_files(log_dir):
        if sources and path.name.split(".")[0] not in sources:
            continue
        try:
            fh = path.open("r", encoding="utf-8", errors="replace")
        except OSError:
            continue
        with fh:
            for raw in fh:
                if not raw.startswith('{"ts": "' + prefix) and prefix not in raw[:40]:
                    continue
                try:
                    line = json.loads(raw)
                except json.JSONDecodeError:
                    issues.unreadable_lines += 1
                    continue
                if not str(line.get("ts", "")).startswith(prefix):
                    continue
                issues.lines_read += 1
                for kind in _kinds(line):
                    issues.counts[kind] += 1
                    if len(issues.samples[kind]) < SAMPLES:
                        sample = f"{line.get('ts', '')[11:19]} {line.get('src', path.stem)} " \
                                 f"{line.get('event', '')}: {line.get('msg', '')}"
                        issues.samples[kind].append(redact(sample)[:300])
    return issues


def prod_report(journal: Path, log_dir: Path, day: date, status: list[tuple[str, str]]) -> ProdReport:
    trades = closed_trades(journal, day)
    return ProdReport(day=day, status=status, symbols=symbol_stats(trades), trades=trades,
                      issues=scan_issues(log_dir, day), journal=str(journal))


def backtest_report(ranked_csv: Path, status: list[tuple[str, str]], top_n: int = TOP_N) -> BacktestReport:
    """Top configurations per symbol by `symbol_rank` (the sweep's in-sample rank within the symbol)."""
    if not ranked_csv.is_file():
        raise ReportError(f"ranked results {ranked_csv} not found (run mraster ops weekly-backtest first)")
    try:
        with ranked_csv.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or [])
            rows = list(reader)
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise ReportError(f"{ranked_csv}: unreadable ({exc})") from None
    missing = [c for c in ("symbol", "symbol_rank") if c not in columns]
    if missing:
        raise ReportError(f"{ranked_csv}: not a ranked results file (no {', '.join(missing)} column)")
    top: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        top.setdefault(row["symbol"], []).append(row)
    for symbol, items in top.items():
        try:
            items.sort(key=lambda r: int(float(r["symbol_rank"])))
        except ValueError:
            raise ReportError(f"{ranked_csv}: symbol_rank is not a number for {symbol}") from None
        del items[top_n:]
    window = ""
    meta = ranked_csv.parent / "last_run.json"
    if meta.is_file():
        try:
            info = json.loads(meta.read_text())
            window = f"{info.get('start_date', '?')} .. {info.get('end_date', '?')} ({info.get('source', '?')})"
        except (OSError, json.JSONDecodeError):
            window = ""
    return BacktestReport(str(ranked_csv), status, window, columns, dict(sorted(top.items())))
