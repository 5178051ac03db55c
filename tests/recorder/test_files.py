"""CSV families on disk: header once, seed 002 columns, UTC roll with one header per file, torn tails
repaired on restart and skipped by readers, missing seconds and restarts written to the gaps file.
The recorder runs on an injected venue clock with a hand-fed cache (no venue needed)."""
from __future__ import annotations

import csv
from datetime import datetime, timezone

from mraster.marketdata.csvread import complete_length
from mraster.marketdata.schema import AGG_TRADE_1S, BOOK_TICKER, TABLES
from recorder.csvfiles import DayFile, header_line
from recorder.gaps import GAPS, GapTracker
from tests.recorder.helpers import SYMBOLS, VenueClock, make_recorder, run_seconds

MIDNIGHT = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() * 1000)


def rows_of(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_roll_at_utc_midnight_gives_two_files_with_one_header_each(tmp_path):
    clock = VenueClock(MIDNIGHT - 5000)
    rec = make_recorder(tmp_path, clock)
    run_seconds(rec, clock, MIDNIGHT - 5000, 8)          # rows for 23:59:56 .. 00:00:03
    rec.files.close()
    rec.gap_files.close()
    for t in TABLES:
        before, after = tmp_path / t.csv_name("20260228"), tmp_path / t.csv_name("20260301")
        for path, dates in ((before, {"2026-02-28"}), (after, {"2026-03-01"})):
            rows = rows_of(path)
            assert rows[0] == t.names                                # seed 002 columns, in order
            assert sum(1 for r in rows if r == t.names) == 1         # one header
            assert {r[t.names.index("date")] for r in rows[1:]} == dates
            assert all(len(r) == len(t.names) for r in rows)
        n_before = len(rows_of(before)) - 1
        n_after = len(rows_of(after)) - 1
        assert n_before == 4 * len(SYMBOLS) and n_after == 4 * len(SYMBOLS)    # one row per symbol per second
    books = rows_of(tmp_path / BOOK_TICKER.csv_name("20260301"))[1:]
    assert [int(r[0]) for r in books if r[2] == "BTCUSDT"] == [MIDNIGHT + i * 1000 for i in range(4)]


def test_restart_repairs_a_torn_tail_and_records_the_downtime(tmp_path):
    start = MIDNIGHT + 3_600_000
    clock = VenueClock(start)
    rec = make_recorder(tmp_path, clock)
    rec._resume("20260301")
    tid = run_seconds(rec, clock, start, 3)
    rec.files.flush()
    path = tmp_path / AGG_TRADE_1S.csv_name("20260301")
    whole = path.read_bytes()
    rec.files.close()
    rec.gap_files.close()
    with open(path, "ab") as f:                                   # a SIGKILL in the middle of a write
        f.write(b"1772326803000,2026-03-01 01:00:03.000,BTCU")
    clock2 = VenueClock(start + 10_000)
    rec2 = make_recorder(tmp_path, clock2)
    rec2._resume("20260301")
    run_seconds(rec2, clock2, start + 10_000, 2, tid)
    rec2.files.close()
    rec2.gap_files.close()
    data = path.read_bytes()
    assert data.startswith(whole) and data.count(header_line(AGG_TRADE_1S).encode()) == 1
    rows = rows_of(path)
    assert all(len(r) == len(AGG_TRADE_1S.names) for r in rows)
    gaps = rows_of(tmp_path / GAPS.csv_name("20260301"))
    assert gaps[0] == GAPS.names
    kinds = [(g[2], g[3]) for g in gaps[1:]]
    assert ("*", "torn_tail") in kinds
    down = [g for g in gaps[1:] if g[3] == "recorder_down"]
    assert sorted(g[2] for g in down) == sorted(SYMBOLS)
    # last row written at start+3s, first new row at start+11s: seconds 4..10 are missing (7 s)
    assert {(int(g[5]), int(g[6]), float(g[7])) for g in down} == {(start + 4000, start + 11_000, 7.0)}


def test_a_file_with_foreign_columns_is_kept_aside(tmp_path):
    path = tmp_path / BOOK_TICKER.csv_name("20260301")
    path.write_text("a,b,c\n1,2,3\n")
    f = DayFile(tmp_path, BOOK_TICKER, "20260301")
    f.close()
    assert f.opened.set_aside is not None and f.opened.set_aside.read_text() == "a,b,c\n1,2,3\n"
    assert path.read_text() == header_line(BOOK_TICKER)


def test_complete_length_stops_before_a_torn_line(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(b"h\n1\n2")
    assert complete_length(p) == 4
    p.write_bytes(b"no newline")
    assert complete_length(p) == 0


def test_missing_seconds_and_stale_streams_become_gaps():
    gap = GapTracker.missing("BTCUSDT", 10_000, 14_000)
    assert (gap.start_ms, gap.end_ms, gap.seconds) == (11_000, 14_000, 3.0)
    assert GapTracker.missing("BTCUSDT", 10_000, 11_000) is None
    tr = GapTracker(["BTCUSDT"])
    assert tr.check_stale(100_000, {"BTCUSDT": {"depth5@100ms": 5.0}}, 0) == []
    assert tr.stale_now() == [{"symbol": "BTCUSDT", "stream": "depth5@100ms", "since_ms": 95_000}]
    closed = tr.check_stale(110_000, {"BTCUSDT": {"depth5@100ms": 0.1}}, 0)
    assert [(g.kind, g.start_ms, g.end_ms) for g in closed] == [("stale", 95_000, 109_900)]
    assert tr.stale_now() == []


def test_the_paper_replay_feed_reads_a_recorder_directory_as_it_is(tmp_path):
    from paper.feeds.replay_files import read_all

    clock = VenueClock(MIDNIGHT)
    rec = make_recorder(tmp_path, clock)
    run_seconds(rec, clock, MIDNIGHT, 70)           # a closed minute and part of the next
    rec.files.close()
    rec.gap_files.close()
    data = read_all(tmp_path)
    assert sorted(data) == sorted(SYMBOLS)
    btc = data["BTCUSDT"]
    assert list(btc.bars["open_time"][:2]) == [MIDNIGHT, MIDNIGHT + 60_000]
    assert len(btc.quotes["time"]) == 70 and len(btc.marks["time"]) == 70


def test_reconnects_and_stale_streams_are_written_to_the_gaps_file(tmp_path):
    from mraster.exchange.market_cache import Reconnect

    start = MIDNIGHT + 7_200_000
    clock = VenueClock(start)
    rec = make_recorder(tmp_path, clock)
    rec._resume("20260301")
    tid = run_seconds(rec, clock, start, 2)
    rec.cache.reconnects.append(Reconnect(start / 1000 + 2, start + 2000, 2, ("BTCUSDT", "ETHUSDT")))
    # no message at all for 6 s: depth (3 s) and mark (5 s) go stale, then everything speaks again
    clock.ms = start + 9_250
    rec.tick(start + 9_000)
    run_seconds(rec, clock, start + 9_000, 1, tid)
    status = rec.status()
    rec.files.close()
    rec.gap_files.close()
    gaps = rows_of(tmp_path / GAPS.csv_name("20260301"))[1:]
    assert sorted(g[2] for g in gaps if g[3] == "reconnect") == ["BTCUSDT", "ETHUSDT"]
    stale = {(g[2], g[4]) for g in gaps if g[3] == "stale"}
    assert stale == {(s, k) for s in SYMBOLS for k in ("depth5@100ms", "markPrice@1s")}
    missing = [g for g in gaps if g[3] == "missing_seconds"]
    assert sorted(g[2] for g in missing) == sorted(SYMBOLS) and {float(g[7]) for g in missing} == {6.0}
    assert status["gaps_today"] == len(gaps) and status["stale_now"] == []
    assert set(status["files"]) == {t.family for t in TABLES}
