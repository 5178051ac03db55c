"""The schedule without systemd (issue 21 item 6): the dashboard's scheduler runs each job at its time
on an injected clock, as a real child process, stops the bot around the daily batch and starts it at
00:00, keeps each job's last result and log across restarts; the /api/ops routes over it."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from dashboard.services.ops import OpsError, OpsScheduler, child_env, default_argv
from mraster.schedule import JOBS_BY_NAME
from tests.dashboard.conftest import async_wait_for, wait_for

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self, text: str):
        self.now = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)

    def set(self, text: str) -> None:
        self.now = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


class Supervisor:
    """Records what the scheduler asks of the supervisor (the real one is covered in test_supervisor)."""

    names = ["bot", "guard", "paper", "maker1"]

    def __init__(self, running=("bot", "guard", "paper")):
        self.running, self.calls = set(running), []

    def has(self, name):
        return name in self.names

    def is_running(self, name):
        return name in self.running

    async def stop(self, name):
        self.calls.append(("stop", name))
        self.running.discard(name)

    async def start(self, name):
        self.calls.append(("start", name))
        self.running.add(name)


def scheduler(workspace, clock, sup, enabled=True, **kw) -> OpsScheduler:
    settings = SimpleNamespace(ops_schedule_enable=enabled, ops_job_timeout=300)
    env = child_env(workspace.config_file, workspace.dotenv_file) | {"PYTHONPATH": str(ROOT)}
    return OpsScheduler(workspace.run_dir, workspace.root, env, lambda: settings, sup, clock=clock, **kw)


async def test_jobs_run_at_their_time_and_the_bot_is_stopped_then_started(workspace):
    clock, sup = Clock("2026-12-05 23:54:59"), Supervisor(running=("bot", "guard", "paper", "maker1"))
    ops = scheduler(workspace, clock, sup)
    assert await ops.tick() == []
    view = {j["name"]: j for j in ops.overview()["jobs"]}
    assert view["daily-batch"]["next_run"] == "2026-12-05T23:55:00+00:00"
    assert view["weekly-backtest"]["next_run"] == "2026-12-06T00:20:00+00:00"
    clock.set("2026-12-05 23:55:00")
    assert await ops.tick() == ["daily-batch"]
    assert await ops.tick() == []                                    # once per due time
    await ops.wait("daily-batch")
    last = ops.state["daily-batch"]
    assert last["ok"] and last["exit_code"] == 0 and last["trigger"] == "schedule", last
    assert sup.calls == [("stop", "bot"), ("stop", "maker1")]         # every trading engine instance
    assert {"guard", "paper"} <= sup.running                          # the guard keeps watching positions
    log = "\n".join(ops.log_tail("daily-batch"))
    assert "stopped bot" in log and "[daily-batch] cleanup: ok" in log and "[daily-batch] done for 20261205" in log
    clock.set("2026-12-06 00:00:00")
    assert await ops.tick() == ["daily-restart"]
    await ops.wait("daily-restart")
    assert sup.calls[-2:] == [("start", "bot"), ("start", "maker1")]
    assert ops.state["daily-restart"]["message"] == "started bot, maker1"
    assert ops.next_run["daily-batch"].isoformat() == "2026-12-06T23:55:00+00:00"

    again = scheduler(workspace, clock, Supervisor())                 # a dashboard restart keeps the results
    assert again.overview()["jobs"][0]["last"]["ok"] is True and again.engines_stopped == []


async def test_switch_off_runs_nothing_and_switching_on_fires_no_backlog(workspace):
    clock, sup = Clock("2026-12-05 23:50:00"), Supervisor()
    settings = SimpleNamespace(ops_schedule_enable=False, ops_job_timeout=300)
    ops = OpsScheduler(workspace.run_dir, workspace.root, {}, lambda: settings, sup, clock=clock)
    clock.set("2026-12-06 00:40:00")                                  # every daily time has passed
    assert await ops.tick() == [] and sup.calls == []
    assert ops.overview()["enabled"] is False and ops.overview()["jobs"][0]["next_run"] is None
    settings.ops_schedule_enable = True
    assert await ops.tick() == []                                     # next runs are in the future
    assert ops.next_run["daily-report"].isoformat() == "2026-12-07T00:35:00+00:00"


async def test_a_failing_job_run_now_and_a_busy_job(workspace):
    failing = workspace.script("failing", "import sys, time\nprint('step 1 ok')\nprint('load failed: disk full')\n"
                               "sys.stdout.flush()\ntime.sleep(0.3)\nsys.exit(3)\n")
    clock = Clock("2026-12-05 12:00:00")
    ops = scheduler(workspace, clock, Supervisor(), argv=lambda job: failing)
    ops.start("weekly-backtest", "button")
    with pytest.raises(OpsError, match="already running"):
        ops.start("weekly-backtest", "button")
    with pytest.raises(OpsError, match="unknown job"):
        ops.start("nope", "button")
    await ops.wait("weekly-backtest")
    last = ops.state["weekly-backtest"]
    assert (last["ok"], last["exit_code"], last["message"], last["trigger"]) == (False, 3, "load failed: disk full",
                                                                                 "button")
    assert ops.log_tail("weekly-backtest")[1:] == ["step 1 ok", "load failed: disk full"]
    saved = json.loads((workspace.run_dir / "ops" / "jobs.json").read_text())
    assert saved["jobs"]["weekly-backtest"]["exit_code"] == 3


async def test_a_corrupt_status_file_is_set_aside_and_reported(workspace):
    (workspace.run_dir / "ops").mkdir(parents=True)
    (workspace.run_dir / "ops" / "jobs.json").write_text("{not json")
    ops = scheduler(workspace, Clock("2026-12-05 12:00:00"), Supervisor())
    assert ops.state == {} and "jobs.json" in ops.overview()["notes"][0]
    assert list((workspace.run_dir / "ops").glob("jobs.json.corrupt-*"))


async def test_under_systemd_the_dashboard_never_runs_the_schedule_or_the_notifier(workspace):
    clock = Clock("2026-12-05 23:54:00")
    settings = SimpleNamespace(ops_schedule_enable=True, ops_job_timeout=300, notify_events="all")
    ops = OpsScheduler(workspace.run_dir, workspace.root, {"MRASTER_OPS_UNDER_SYSTEMD": "1"}, lambda: settings,
                       Supervisor(), clock=clock, notifier=object())
    clock.set("2026-12-05 23:55:00")
    assert await ops.tick() == [] and ops.notifier is None
    assert ops.overview()["under_systemd"] is True and ops.overview()["enabled"] is False


def test_default_commands_are_the_timers_commands():
    batch = default_argv(JOBS_BY_NAME["daily-batch"], "py")
    assert batch == ["py", "-m", "ops", "daily-batch", "--no-restart", "--engines", "none"]
    assert default_argv(JOBS_BY_NAME["daily-report"], "py") == ["py", "-m", "ops", "report", "--mode", "prod", "--send"]


def test_api_overview_run_now_log_and_report(workspace, serve, client_for, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    from tests.ops.test_reports import DAY, closed, ms
    from mraster.journal.journal import Journal
    j = Journal(workspace.root / "aster_journal.sqlite")
    j.upsert_trade(closed("t1", "BTCUSDT", ms(3), "5", "0.1"))
    j.close()
    api = client_for(serve(ops_clock=Clock("2026-12-05 12:00:00")))
    view = api.get("/api/ops").json()
    assert [j["name"] for j in view["jobs"]] == ["daily-batch", "daily-restart", "weekly-backtest", "daily-report"]
    assert view["enabled"] is False and view["jobs"][3]["when"] == "daily 00:35 UTC"
    assert api.post("/api/ops/jobs/daily-report/run").status_code == 200
    last = wait_for(lambda: api.get("/api/ops").json()["jobs"][3]["last"], 60, what="the report job's result")
    assert last["ok"] and last["trigger"] == "button"
    lines = api.get("/api/ops/jobs/daily-report/log").json()["lines"]
    assert any("not sent: ASTER_EMAIL_PROD_ENABLE is off" in x for x in lines)
    assert api.post("/api/ops/jobs/nope/run").status_code == 404
    assert api.get("/api/ops/jobs/nope/log").status_code == 404
    page = api.get(f"/api/ops/report/prod?date={DAY.isoformat()}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "BTCUSDT" in page.text and "data:image/png;base64," in page.text
    bad = api.get("/api/ops/report/prod?date=20261301")
    assert bad.status_code == 422 and "expected YYYY-MM-DD" in bad.json()["detail"]
    missing = api.get("/api/ops/report/backtest")
    assert missing.status_code == 422 and "ranked results" in missing.json()["detail"]


async def test_the_dashboard_runs_the_notifier_while_notifications_are_on(workspace):
    """`ops notify` as a real supervised child: started when ASTER_NOTIFY_EVENTS names a kind, a closed
    position written to the bot's log reaches the webhook, stopped when the setting goes back to none."""
    from dashboard.services.supervisor import ChildSpec, Supervisor
    from tests.ops.test_notify import Hook
    from mraster.settings import load_settings
    hook = Hook(fail=0)
    env = child_env(workspace.config_file, workspace.dotenv_file) | {"PYTHONPATH": str(ROOT),
                                                                     "ASTER_NOTIFY_WEBHOOK_URL": hook.url}
    notifier = Supervisor({"notify": ChildSpec("notify", (sys.executable, "-m", "ops", "notify"), workspace.root, env,
                                               workspace.log_dir / "notify.out", workspace.run_dir / "notify.pid")},
                          stop_timeout=10)
    workspace.write_config({"ASTER_PAPER": True, "ASTER_NOTIFY_EVENTS": "exit"})
    settings = SimpleNamespace(ops_schedule_enable=False, ops_job_timeout=300, notify_events="exit")
    ops = OpsScheduler(workspace.run_dir, workspace.root, env, lambda: settings, Supervisor({}), notifier=notifier,
                       clock=Clock("2026-12-05 12:00:00"))
    await ops.open()
    try:
        await ops.tick()
        assert ops.overview()["notifier"]["state"] == "running"
        offsets = workspace.run_dir / "ops" / "notify_offsets.json"
        await async_wait_for(lambda: offsets.exists(), 60, what="the notifier's first poll")
        workspace.log_dir.mkdir(exist_ok=True)
        with (workspace.log_dir / "bot.jsonl").open("a") as fh:
            fh.write(json.dumps({"ts": "2026-12-05T12:00:01.000Z", "level": "INFO", "src": "bot",
                                 "event": "position.closed", "msg": "BTCUSDT LONG closed by stop_loss: PnL -1.2"}) + "\n")
        await async_wait_for(lambda: hook.bodies, 60, what="the webhook delivery")
        assert hook.bodies[0]["events"][0]["text"] == "BTCUSDT LONG closed by stop_loss: PnL -1.2"
        settings.notify_events = "none"
        await ops.tick()
        assert ops.overview()["notifier"]["state"] == "stopped"
        assert load_settings(env=env, cwd=workspace.root).settings.notify_events == "exit"
    finally:
        if notifier.is_running("notify"):
            await notifier.stop("notify")
        await ops.close()
        hook.close()


def test_autostart_starts_guard_and_bot_with_the_dashboard(workspace, serve, client_for):
    from tests.dashboard.conftest import SLEEPER
    sleeper = workspace.script("sleeper", SLEEPER)
    workspace.write_config({"ASTER_PAPER": True, "ASTER_PAPER_FEED": "synthetic", "ASTER_OPS_AUTOSTART": True})
    api = client_for(serve(commands={"bot": sleeper + ("bot",), "guard": sleeper + ("guard",)}, stop_timeout=5))
    wait_for(lambda: api.get("/api/bot/status").json()["state"] == "running", 20, what="the bot autostarted")
    assert api.get("/api/guard/status").json()["state"] == "running"
    api.post("/api/bot/stop")
    api.post("/api/guard/stop")


def test_no_autostart_by_default(workspace, serve, client_for):
    from tests.dashboard.conftest import SLEEPER
    sleeper = workspace.script("sleeper", SLEEPER)
    api = client_for(serve(commands={"bot": sleeper + ("bot",), "guard": sleeper + ("guard",)}))
    assert api.get("/api/bot/status").json()["state"] == "stopped"
