"""Reports checked for content against a real SQLite journal (written by the journal's own code) and
real JSON-lines logs (written by the logging setup every process uses)."""
from __future__ import annotations

import csv
import json
import logging
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from mraster.journal.journal import Journal
from mraster.logs import get_logger, setup_logging
from mraster.state.model import Trade
from ops.render import render_backtest, render_prod
from ops.report import ReportError, backtest_report, prod_report, scan_issues

DAY = date(2026, 11, 20)


def ms(h: int, m: int = 0, d: date = DAY) -> int:
    return int(datetime(d.year, d.month, d.day, h, m, tzinfo=timezone.utc).timestamp() * 1000)


def closed(tid: str, symbol: str, exit_ms: int, pnl: str, fees: str, funding: str = "0") -> Trade:
    return Trade(trade_id=tid, symbol=symbol, side="LONG", status="closed", entry_price=Decimal("100"),
                 entry_time_ms=exit_ms - 600_000, entry_qty=Decimal("1"), exit_price=Decimal("101"),
                 exit_time_ms=exit_ms, exit_reason="take_profit", realized_pnl=Decimal(pnl), fees=Decimal(fees),
                 funding=Decimal(funding))


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "aster_journal.sqlite"
    j = Journal(path)
    for t in (closed("t1", "BTCUSDT", ms(1), "12.5", "0.5"),
              closed("t2", "BTCUSDT", ms(5), "-4", "0.4", "-0.1"),
              closed("t3", "ETHUSDT", ms(23, 59), "3", "0.3", "0.05"),
              closed("t0", "BTCUSDT", ms(23, 59, date(2026, 11, 19)), "99", "0"),   # the day before
              closed("t9", "ETHUSDT", ms(0, 0, date(2026, 11, 21)), "99", "0")):    # the day after
        j.upsert_trade(t)
    j.upsert_trade(Trade(trade_id="t5", symbol="SOLUSDT", side="SHORT", status="open", entry_time_ms=ms(2)))
    j.close()
    return path


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """Lines written through the real logger, then re-dated into the report's day."""
    log_dir = tmp_path / "logs"
    setup_logging("bot", "INFO", log_dir, stdout=False, secrets=["s3cr3t-value"])
    log = get_logger("bot")
    log.info("cycle.summary", "scanned 12 symbols")
    log.warning("http.retry", "GET /fapi/v1/klines timed out, retrying")
    log.warning("stream.closed", "market stream connection closed by the venue")
    log.error("order.failed", "order refused with key s3cr3t-value")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("cycle.failed", "cycle failed")
    for h in logging.getLogger().handlers:
        h.flush()
    path = log_dir / "bot.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    for i, line in enumerate(lines):
        line["ts"] = f"{DAY.isoformat()}T10:00:0{i}.000Z"
    lines.append({"ts": "2026-11-19T10:00:00.000Z", "level": "ERROR", "src": "bot", "event": "x", "msg": "old"})
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{torn")
    logging.getLogger().handlers.clear()
    return log_dir


def test_production_report_content(journal, logs):
    r = prod_report(journal, logs, DAY, [("mraster.service", "active")])
    assert [t["trade_id"] for t in r.trades] == ["t1", "t2", "t3"]
    btc, eth = r.symbols
    assert (btc.symbol, btc.trades, btc.wins, btc.losses) == ("BTCUSDT", 2, 1, 1)
    assert btc.net_pnl == pytest.approx(12.0 + (-4 - 0.4 - 0.1))          # realized - fees + funding
    assert btc.best == pytest.approx(12.0) and btc.worst == pytest.approx(-4.5) and btc.fees == pytest.approx(0.9)
    assert (eth.trades, eth.net_pnl) == (1, pytest.approx(2.75))
    assert r.net_pnl == pytest.approx(12 - 4.5 + 2.75)
    i = r.issues
    assert i.lines_read == 5 and i.unreadable_lines == 0
    assert (i.counts["errors"], i.counts["warnings"], i.counts["timeouts"], i.counts["connection_closes"],
            i.counts["tracebacks"]) == (2, 2, 1, 1, 1)
    assert any("timed out" in s for s in i.samples["timeouts"])
    assert all("s3cr3t-value" not in s for v in i.samples.values() for s in v)

    out = render_prod(r)
    assert "3 trades" in out.subject and "+10.2500" in out.subject
    for part in (out.text, out.html):
        assert "BTCUSDT" in part and "ETHUSDT" in part and "SOLUSDT" not in part
        assert "mraster.service" in part and "active" in part
        assert "50%" in part                                  # BTC win rate
    assert "timeouts: 1" in out.text and "tracebacks: 1" in out.text
    assert set(out.images) == {"pnl"} and out.images["pnl"].startswith(b"\x89PNG")
    page = out.standalone_html()
    assert "cid:" not in page and "data:image/png;base64," in page


def test_a_day_without_trades_and_a_missing_journal(journal, tmp_path):
    r = prod_report(journal, tmp_path / "nologs", date(2026, 1, 1), [])
    out = render_prod(r)
    assert r.trades == [] and out.images == {} and "No trade closed this day." in out.text
    with pytest.raises(ReportError, match="journal .* not found"):
        prod_report(tmp_path / "missing.sqlite", tmp_path, DAY, [])
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ReportError, match="bad.sqlite"):
        prod_report(bad, tmp_path, DAY, [])


def write_ranked(path: Path, per_symbol: dict[str, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["rank", "symbol_rank", "symbol", "k", "is_total_pnl"])
        rank = 1
        for symbol, n in per_symbol.items():
            for r in range(n, 0, -1):        # written worst first: the report must sort
                w.writerow([rank, r, symbol, 1.5 + r, 100 - r])
                rank += 1


def test_backtest_report_top_ten_per_symbol(tmp_path):
    ranked = tmp_path / "results" / "ranked_metrics.csv"
    write_ranked(ranked, {"LINKUSDT": 14, "DOTUSDT": 3})
    r = backtest_report(ranked, [("mraster-weekly-backtest.service", "inactive")])
    assert list(r.top) == ["DOTUSDT", "LINKUSDT"]
    assert [row["symbol_rank"] for row in r.top["LINKUSDT"]] == [str(i) for i in range(1, 11)]
    assert len(r.top["DOTUSDT"]) == 3
    out = render_backtest(r)
    assert "LINKUSDT: top 10" in out.text and "DOTUSDT: top 3" in out.text
    assert out.html.count("<tr>") == 2 + 11 + 4 and "cid:top" in out.html     # status, LINK, DOT tables
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ReportError, match="not a ranked results file"):
        backtest_report(tmp_path / "bad.csv", [])


def test_report_command_writes_a_file_atomically_and_prints_text(work, journal, logs):
    work.config({"ASTER_PAPER": True, "ASTER_JOURNAL_FILE": "j.sqlite"})
    (work.root / "j.sqlite").write_bytes(journal.read_bytes())
    (work.root / "logs").mkdir()
    (work.root / "logs" / "bot.jsonl").write_bytes((logs / "bot.jsonl").read_bytes())
    res = work.mraster("ops", "report", "--mode", "prod", "--date", DAY.isoformat(), "--out", "out/report.html")
    assert res.returncode == 0, res.stderr
    assert "Trades per symbol (3 closed" in res.stdout
    page = (work.root / "out" / "report.html").read_text()
    assert page.startswith("<html>") and "BTCUSDT" in page and "data:image/png;base64," in page
    assert [p.name for p in (work.root / "out").iterdir()] == ["report.html"]      # no temporary left
    res = work.mraster("ops", "report", "--mode", "prod", "--date", "2026-13-01")
    assert res.returncode == 1 and "expected YYYY-MM-DD" in res.stderr
    res = work.mraster("ops", "report", "--mode", "backtest")
    assert res.returncode == 1 and "run mraster ops weekly-backtest first" in res.stderr
    res = work.mraster("ops", "report", "--mode", "prod", "--date", DAY.isoformat(), "--send")
    assert res.returncode == 0 and "not sent: ASTER_EMAIL_PROD_ENABLE is off" in res.stderr


def test_scan_issues_reads_rotated_files(logs):
    rotated = logs / "bot.jsonl.1"
    rotated.write_text(json.dumps({"ts": f"{DAY}T01:00:00.000Z", "level": "ERROR", "src": "bot", "event": "e",
                                   "msg": "Traceback (most recent call last): ..."}) + "\n")
    i = scan_issues(logs, DAY)
    assert i.counts["errors"] == 3 and i.counts["tracebacks"] == 2
