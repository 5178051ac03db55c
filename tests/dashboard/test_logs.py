"""Log tailing (rotation, truncation, partial lines), the hub's filters and bounded queues, and
/ws/logs over a real server: backlog, live lines, filters, and a stuck client that blocks nobody."""
from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
from websockets.sync.client import connect

from dashboard.services.loghub import LogFilter, LogHub, Subscription, parse_line
from dashboard.services.tail import FileTailer
from dashboard.testing import stuck_log_client

from tests.dashboard.conftest import wait_for


def line(i: int, level: str = "INFO", src: str = "bot", **extra) -> str:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{i % 1000:03d}Z"
    return json.dumps({"ts": ts, "level": level, "src": src, "event": "test.line", "msg": f"line {i}", **extra})


def append(path, *lines: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write("".join(l + "\n" for l in lines))


# ---------------------------------------------------------------------- tailing
def test_tailer_backlog_then_new_lines_and_partial_lines(tmp_path):
    path = tmp_path / "bot.jsonl"
    append(path, *(f"old {i}" for i in range(100)))
    tailer = FileTailer(path, backlog_bytes=30)
    backlog = tailer.poll()
    assert backlog and backlog[-1] == "old 99" and all(l.startswith("old ") for l in backlog)
    assert len(backlog) < 10, "only the last bytes, and the cut first line is dropped"
    with open(path, "a") as fh:
        fh.write("half of a li")
    assert tailer.poll() == []
    with open(path, "a") as fh:
        fh.write("ne\nnext\n")
    assert tailer.poll() == ["half of a line", "next"]


def test_tailer_follows_rotation_without_losing_lines(tmp_path):
    path = tmp_path / "bot.jsonl"
    append(path, "a")
    tailer = FileTailer(path)
    assert tailer.poll() == []
    append(path, "b", "c")
    os.rename(path, tmp_path / "bot.jsonl.1")       # what RotatingFileHandler does
    append(tmp_path / "bot.jsonl.1", "d")           # written to the old file just before the switch
    append(path, "e")
    assert tailer.poll() == ["b", "c", "d", "e"]
    append(path, "f")
    assert tailer.poll() == ["f"]


def test_tailer_handles_truncation_and_late_files(tmp_path):
    path = tmp_path / "guard.jsonl"
    tailer = FileTailer(path, backlog_bytes=1000)
    assert tailer.poll() == []                      # no file yet
    append(path, "first", "second")
    assert tailer.poll() == ["first", "second"], "a file created later is read from its start"
    with open(path, "w") as fh:                     # truncated in place
        fh.write("fresh\n")
    assert tailer.poll() == ["fresh"]


# ---------------------------------------------------------------------- filters and queues
def test_filters_by_level_source_and_activity():
    entries = [parse_line(line(1, "DEBUG"), "bot", 1), parse_line(line(2, "INFO", "guard"), "guard", 2),
               parse_line(line(3, "INFO", activity=True), "bot", 3), parse_line(line(4, "WARNING"), "bot", 4),
               parse_line("not json at all", "paper", 5)]
    pick = lambda f: [e["seq"] for e in entries if f.matches(e)]  # noqa: E731
    assert pick(LogFilter.parse()) == [1, 2, 3, 4, 5]
    assert pick(LogFilter.parse(level="info")) == [2, 3, 4, 5]
    assert pick(LogFilter.parse(sources="guard,paper")) == [2, 5]
    assert pick(LogFilter.parse(activity="1")) == [3, 4], "activity lines plus every warning"
    assert entries[4]["msg"] == "not json at all" and entries[4]["src"] == "paper"
    with pytest.raises(ValueError, match="level"):
        LogFilter.parse(level="LOUD")
    with pytest.raises(ValueError, match="unknown source"):
        LogFilter.parse(sources="bot,kernel")


async def test_a_full_client_queue_drops_its_oldest_lines():
    sub = Subscription(LogFilter(), maxlen=100)
    for i in range(250):
        sub.offer({"seq": i, "level": "INFO", "src": "bot"})
    batch, dropped = await sub.next_batch(1000)
    assert dropped == 150 and [e["seq"] for e in batch] == list(range(150, 250))
    sub.offer({"seq": 999, "level": "INFO", "src": "bot"})
    assert await sub.next_batch() == ([{"seq": 999, "level": "INFO", "src": "bot"}], 0)


async def test_hub_masks_secrets_and_merges_backlog_by_time(tmp_path):
    append(tmp_path / "guard.jsonl", json.dumps({"ts": "2026-01-01T00:00:02.000Z", "msg": "g"}))
    append(tmp_path / "bot.jsonl", json.dumps({"ts": "2026-01-01T00:00:01.000Z", "msg": "b key=sekret-123"}),
           json.dumps({"ts": "2026-01-01T00:00:03.000Z", "msg": "b2"}))
    hub = LogHub(tmp_path, secrets=["sekret-123"])
    await hub.open()
    try:
        assert [e["msg"] for e in hub.backlog] == ["b key=***", "g", "b2"]
    finally:
        await hub.close()



async def test_recent_answers_with_a_line_written_just_before_the_request(tmp_path):
    """/api/logs must not lag the disk by a poll interval: a line the dashboard wrote a moment ago
    (e.g. why it refused to start the bot) is in the answer to the next request."""
    hub = LogHub(tmp_path, poll_interval=3600.0)     # the background poll never runs again in this test
    await hub.open()
    try:
        await asyncio.sleep(0)                        # the poll task takes its first (empty) look
        append(tmp_path / "dashboard.jsonl", line(1, "ERROR", "dashboard", feed=True))
        got = hub.recent(LogFilter.parse(activity=True))
        assert [e["msg"] for e in got] == ["line 1"]
    finally:
        await hub.close()


# ---------------------------------------------------------------------- over a real server
def _lines(ws, until, timeout=20.0):
    got, dropped = [], 0
    deadline = time.monotonic() + timeout
    while not until(got):
        msg = json.loads(ws.recv(max(0.1, deadline - time.monotonic())))
        if msg["type"] == "lines":
            got += msg["lines"]
            dropped += msg["dropped"]
    return got, dropped


def test_ws_sends_backlog_then_live_lines_with_filters(workspace, serve):
    log = workspace.log_dir / "bot.jsonl"
    append(log, *(line(i) for i in range(5)), line(5, "DEBUG"))
    append(workspace.log_dir / "guard.jsonl", line(6, src="guard"))
    server = serve(log_poll_interval=0.01)
    with connect(server.ws_url + "/ws/logs?level=INFO&sources=bot") as ws:
        hello = json.loads(ws.recv(10))
        assert hello == {"type": "hello", "backlog": 5}
        got, _ = _lines(ws, lambda g: len(g) >= 5)
        assert [e["msg"] for e in got] == [f"line {i}" for i in range(5)]
        append(log, line(100, "DEBUG"), line(101), line(102, "WARNING"))
        append(workspace.log_dir / "guard.jsonl", line(103, src="guard"))
        got, _ = _lines(ws, lambda g: len(g) >= 2)
        assert [e["msg"] for e in got] == ["line 101", "line 102"]
        ws.send(json.dumps({"type": "filter", "level": "WARNING", "sources": ["bot", "guard"]}))
        deadline = time.monotonic() + 10
        while True:  # the server applies the filter asynchronously: write until a guard warning arrives
            append(workspace.log_dir / "guard.jsonl", line(200, "WARNING", src="guard"))
            append(log, line(201, "INFO"))
            msg = json.loads(ws.recv(10))
            assert msg["type"] == "lines"
            if any(e["msg"] == "line 200" for e in msg["lines"]):
                break
            assert time.monotonic() < deadline
        ws.send(json.dumps({"type": "filter", "level": "LOUD"}))
        assert json.loads(ws.recv(10))["type"] in ("error", "lines")


def test_ws_rejects_a_bad_filter(workspace, serve):
    server = serve()
    from websockets.exceptions import InvalidStatus
    with pytest.raises(InvalidStatus):
        connect(server.ws_url + "/ws/logs?level=LOUD", open_timeout=10)


def test_a_stuck_client_loses_old_lines_and_slows_nobody(workspace, serve, client_for):
    server = serve(log_poll_interval=0.01)
    api = client_for(server)
    stuck = stuck_log_client(server.port)
    try:
        wait_for(lambda: len(api.get("/api/logs/stats").json()["clients"]) == 1, what="stuck client subscribed")
        log = workspace.log_dir / "bot.jsonl"
        pad = "x" * 600
        with connect(server.ws_url + "/ws/logs?backlog=0", max_size=None) as fast:
            assert json.loads(fast.recv(10))["type"] == "hello"
            received = []
            total = 0
            for chunk in range(60):
                append(log, *(line(total + i, pad=pad, n=total + i) for i in range(300)))
                total += 300
                got, dropped = _lines(fast, lambda g: len(received) + len(g) >= total)
                assert dropped == 0, "a client that keeps up loses nothing"
                received += got
                # the dashboard answers while the stuck client's queue is full
                assert api.get("/api/processes").status_code == 200
            assert [e["n"] for e in received] == list(range(total))
        stats = api.get("/api/logs/stats").json()
        assert stats["lines_total"] >= total
        stuck_stats = [c for c in stats["clients"] if c["dropped_total"] > 0]
        assert stuck_stats and stuck_stats[0]["pending"] <= 2000, "bounded: the oldest lines were dropped"
        assert sum(1 for _ in open(log)) == total, "the writer wrote every line"
    finally:
        stuck.close()
