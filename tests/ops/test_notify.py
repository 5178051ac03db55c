"""Notifications: which log lines become which event, payloads Slack and Discord accept, delivery to a
local HTTP server that fails twice before accepting, the rate limit (injected clock), secrets never in
a message, and the whole follower on real log files."""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mraster.logs import get_logger, register_secrets, setup_logging
from ops.notify import (Dispatcher, Event, LogFollower, WebhookSink, classify, enabled_kinds, event_of, follow,
                        unit_failure_event, webhook_format, webhook_payload)
from tests.dashboard.conftest import wait_for


class Hook:
    """A webhook endpoint on 127.0.0.1 that answers 500 `fail` times, then 204."""

    def __init__(self, fail: int = 2):
        self.fail, self.calls, self.bodies = fail, 0, []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.calls += 1
                if hook.calls <= hook.fail:
                    self.send_response(500)
                else:
                    hook.bodies.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/SECRETTOKEN"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


LINES = [
    ({"src": "bot", "event": "fill", "level": "INFO"}, "entry"),
    ({"src": "bot", "event": "position.closed", "level": "INFO"}, "exit"),
    ({"src": "guard", "event": "position.closed", "level": "WARNING"}, "exit"),
    ({"src": "guard", "event": "guard.gave_up", "level": "ERROR"}, "guard_repair_failed"),
    ({"src": "bot", "event": "position.unprotected", "level": "ERROR"}, "guard_repair_failed"),
    ({"src": "guard", "event": "kill_switch", "level": "ERROR"}, "kill_switch"),
    ({"src": "dashboard", "event": "process.crashed", "level": "ERROR"}, "engine_crashed"),
    ({"src": "dashboard", "event": "process.auto_restart", "level": "INFO"}, "engine_restarted"),
    ({"src": "recorder", "event": "recorder.gap", "level": "WARNING"}, "recorder_gap"),
    ({"src": "ops", "event": "ops.report.sent", "level": "INFO"}, "daily_report"),
    ({"src": "dashboard", "event": "ops.job", "level": "WARNING"}, "job_failed"),
    ({"src": "dashboard", "event": "ops.job", "level": "INFO"}, None),
    ({"src": "bot", "event": "cycle.summary", "level": "INFO"}, None),
    ({"src": "guard", "event": "guard.started", "level": "INFO"}, None),
]


@pytest.mark.parametrize("line,kind", LINES)
def test_classify(line, kind):
    assert classify(line) == kind


def test_opt_in_per_kind():
    assert enabled_kinds("none") == frozenset()
    assert enabled_kinds("exit,kill_switch") == {"exit", "kill_switch"}
    assert len(enabled_kinds("all")) == 9
    line = {"src": "bot", "event": "fill", "msg": "LONG BTCUSDT 0.1 @ 100", "symbol": "BTCUSDT"}
    assert event_of(line, enabled_kinds("exit")) is None
    assert event_of(line, enabled_kinds("entry")).fields == {"symbol": "BTCUSDT"}


def test_payloads_for_slack_discord_and_json():
    events = [Event("exit", "BTCUSDT LONG closed by take_profit: PnL 12.3", "2026-11-20T10:00:00Z")]
    assert webhook_format("https://hooks.slack.com/services/T/B/X", "auto") == "slack"
    assert webhook_format("https://discord.com/api/webhooks/1/abc", "auto") == "discord"
    assert webhook_format("https://example.test/hook", "auto") == "json"
    slack = webhook_payload(events, "slack")
    assert set(slack) == {"text"} and "Exit: BTCUSDT LONG closed" in slack["text"]
    discord = webhook_payload(events * 100, "discord", suppressed=3)
    assert set(discord) == {"content", "username"} and len(discord["content"]) <= 2000
    generic = webhook_payload(events, "json", suppressed=2)
    assert generic["events"][0]["kind"] == "exit" and "2 more notification(s) merged" in generic["text"]


def test_webhook_failing_twice_then_accepting(hook):
    sleeps = []
    disp = Dispatcher([WebhookSink(hook.url, "json")], retries=3, backoff=0.5, sleep=sleeps.append).start()
    disp.submit(Event("kill_switch", "KILL-SWITCH: margin ratio 1.1"))
    assert disp.wait_idle(20)
    disp.close()
    assert hook.calls == 3 and sleeps == [0.5, 1.0]              # two failures, exponential backoff
    assert disp.delivered == [("webhook", "kill_switch")] and disp.failed == []
    assert hook.bodies[0]["events"][0]["text"] == "KILL-SWITCH: margin ratio 1.1"
    assert "SECRETTOKEN" not in json.dumps(hook.bodies) and "SECRETTOKEN" not in repr(disp.sinks[0])


def test_giving_up_after_the_retries_and_submit_never_blocks(tmp_path):
    hook = Hook(fail=100)
    try:
        gate = threading.Event()
        disp = Dispatcher([WebhookSink(hook.url, "json")], retries=1, backoff=0, sleep=lambda s: gate.wait(5))
        disp.start()
        for i in range(500):                      # the sender is stuck in its backoff: submit still returns
            disp.submit(Event("entry", f"fill {i}"))
        gate.set()
        assert disp.wait_idle(30)
        disp.close()
        assert disp.failed and not disp.delivered
    finally:
        hook.close()


def test_rate_limit_merges_the_excess(hook):
    hook.fail = 0
    now = [1000.0]
    disp = Dispatcher([WebhookSink(hook.url, "slack")], per_minute=2, retries=0, clock=lambda: now[0]).start()
    for i in range(3):
        disp.submit(Event("entry", f"fill {i}"))
        assert disp.wait_idle(10)
    assert len(hook.bodies) == 2 and disp.suppressed == 1       # the third waits for the window
    now[0] += 61
    disp.submit(Event("exit", "closed"))
    assert disp.wait_idle(10)
    disp.close()
    assert len(hook.bodies) == 3 and "1 more notification(s) merged" in hook.bodies[2]["text"]


def test_log_follower_reads_only_new_complete_lines_and_survives_rotation(tmp_path):
    logs, offsets = tmp_path / "logs", tmp_path / "run" / "offsets.json"
    logs.mkdir()
    bot = logs / "bot.jsonl"
    bot.write_text(json.dumps({"event": "old"}) + "\n")
    f = LogFollower(logs, offsets)
    assert f.poll() == []                                        # first start: from the end, no replay
    with bot.open("a") as fh:
        fh.write(json.dumps({"event": "a"}) + "\n" + '{"event": "tor')
    assert [x["event"] for x in f.poll()] == ["a"]
    with bot.open("a") as fh:
        fh.write('n"}\n')
    assert [x["event"] for x in f.poll()] == ["torn"]
    assert LogFollower(logs, offsets).poll() == []               # a restart resumes where it stopped
    bot.rename(logs / "bot.jsonl.1")
    bot.write_text(json.dumps({"event": "after-rotation"}) + "\n")
    (logs / "guard.jsonl").write_text(json.dumps({"event": "new-file"}) + "\n")
    assert sorted(x["event"] for x in f.poll()) == ["after-rotation", "new-file"]


def test_follow_end_to_end_with_secrets_redacted(hook, tmp_path):
    """Real log lines written by the logger reach the webhook; a secret in a message never does."""
    hook.fail = 1
    from mraster.settings import default_settings
    settings = default_settings().with_values(notify_events="exit,kill_switch", notify_webhook_url=hook.url,
                                              notify_webhook_format="json", notify_retries=2)
    logs, run = tmp_path / "logs", tmp_path / "run"
    setup_logging("guard", "INFO", logs, stdout=False)
    log = get_logger("guard")
    log.info("guard.started", "guard up")
    register_secrets(["api-secret-XYZ123"])
    stop = threading.Event()
    result = {}
    disp = Dispatcher([WebhookSink(hook.url, "json")], retries=2, backoff=0, sleep=lambda s: None).start()
    t = threading.Thread(target=lambda: result.setdefault("d", follow(settings, logs, run, stop=stop, interval=0.02,
                                                                      dispatcher=disp)))
    t.start()
    wait_for(lambda: (run / "ops" / "notify_offsets.json").exists(), 10, what="the follower's first poll")
    log.error("kill_switch", "KILL-SWITCH: margin low; key api-secret-XYZ123 not shown")
    log.info("guard.started", "not opted in")
    for h in logging.getLogger().handlers:
        h.flush()
    wait_for(lambda: hook.bodies, 20, what="the webhook delivery")
    stop.set()
    t.join(10)
    logging.getLogger().handlers.clear()
    texts = [e["text"] for b in hook.bodies for e in b["events"]]
    assert texts == ["KILL-SWITCH: margin low; key *** not shown"]
    assert "api-secret-XYZ123" not in json.dumps(hook.bodies)
    assert Path(run / "ops" / "notify_offsets.json").exists()


def test_a_failed_systemd_unit_is_announced(work, hook):
    """The units' OnFailure= hook: `mraster ops notify --failed-unit UNIT` (a real child process)."""
    hook.fail = 0
    assert unit_failure_event("mraster-daily-batch.service").kind == "job_failed"
    assert unit_failure_event("mraster.service").kind == "engine_crashed"
    env = {"ASTER_NOTIFY_WEBHOOK_URL": hook.url, "ASTER_NOTIFY_EVENTS": "engine_crashed"}
    res = work.mraster("ops", "notify", "--failed-unit", "mraster.service", extra_env=env)
    assert res.returncode == 0, res.stderr
    assert hook.bodies[0]["events"][0]["text"].startswith("systemd unit mraster.service failed")
    res = work.mraster("ops", "notify", "--failed-unit", "mraster-weekly-backtest.service", extra_env=env)
    assert res.returncode == 0 and "job_failed is not in ASTER_NOTIFY_EVENTS" in res.stdout
    assert len(hook.bodies) == 1
