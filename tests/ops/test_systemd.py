"""`mraster deploy systemd` (issue 21 item 1): every generated unit passes `systemd-analyze verify`,
every timer's calendar is what `systemd-analyze calendar` computes for our schedule table, the
environment template names every seed 002 variable and is mode 0640, the bootstrap script parses."""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mraster.schedule import JOBS, JOBS_BY_NAME, Calendar
from mraster.settings import load_settings
from ops.systemd import DeployOptions, render_units

ANALYZE = shutil.which("systemd-analyze") or "systemd-analyze"     # Debian's systemd package (scripts/test.sh)
SEED_VARS = ("ASTER_ENTRY_HALT_UTC", "ASTER_FORCE_EXIT_UTC", "ASTER_BQ_ENABLE_DAILY_BATCH", "ASTER_BQ_PROJECT",
             "ASTER_BQ_DATASET", "ASTER_LOG_RETENTION_DAYS", "ASTER_POLL_TIME", "ASTER_BACKTEST_START_DATE",
             "ASTER_BACKTEST_END_DATE", "ASTER_EMAIL_PROD_ENABLE", "ASTER_EMAIL_BACKTEST_ENABLE",
             "ASTER_EMAIL_BACKTEST_ON_COMPLETION", "ASTER_EMAIL_SMTP_HOST", "ASTER_EMAIL_SMTP_PORT",
             "ASTER_EMAIL_SMTP_USER", "ASTER_EMAIL_SMTP_PASS", "ASTER_EMAIL_FROM", "ASTER_EMAIL_TO_PROD",
             "ASTER_EMAIL_TO_BACKTEST")


def fake_install(tmp_path: Path) -> Path:
    """An install prefix whose `.venv/bin/mraster` exists and is executable (verify checks ExecStart)."""
    prefix = tmp_path / "opt" / "mraster"
    (prefix / ".venv" / "bin").mkdir(parents=True)
    exe = prefix / ".venv" / "bin" / "mraster"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    return prefix


def verify(paths: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run([ANALYZE, "verify", "--man=no", *map(str, paths)], capture_output=True, text=True,
                          cwd=paths[0].parent, timeout=120)


def generate(work, tmp_path: Path, *extra: str) -> tuple[Path, Path]:
    prefix = fake_install(tmp_path)
    out = tmp_path / "units"
    env_file = tmp_path / "etc" / "mraster.env"
    env_file.parent.mkdir()
    env_file.write_text("")
    res = work.mraster("deploy", "systemd", "--out", str(out), "--prefix", str(prefix), "--env-path", str(env_file),
                       *extra)
    assert res.returncode == 0, res.stderr
    return out, prefix


def test_every_unit_verifies_and_has_the_expected_shape(work, tmp_path):
    out, prefix = generate(work, tmp_path)
    units = sorted(out.glob("*.service")) + sorted(out.glob("*.timer"))
    assert {p.name for p in units} == {
        "mraster.service", "mraster-daily-batch.service", "mraster-daily-stop.timer", "mraster-daily-restart.service",
        "mraster-daily-restart.timer", "mraster-weekly-backtest.service", "mraster-weekly-backtest.timer",
        "mraster-daily-report.service", "mraster-daily-report.timer", "mraster-notify.service",
        "mraster-failure@.service"}
    res = verify(units)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stderr.strip() == "", res.stderr            # not even a warning
    main = (out / "mraster.service").read_text()
    for option in ("Restart=on-failure", "NoNewPrivileges=true", "ProtectSystem=strict", "User=mraster",
                   f"ReadWritePaths={prefix}", "PrivateTmp=true", "ProtectHome=true", "CapabilityBoundingSet=\n"):
        assert option in main, option
    assert f"ExecStart={prefix}/.venv/bin/mraster dashboard" in main
    assert "Environment=MRASTER_OPS_UNDER_SYSTEMD=1" in main       # no second scheduler or notifier inside
    assert "Environment=ASTER_OPS_AUTOSTART=true" in main and "KillMode" not in main   # SIGTERM to every child
    assert "OnFailure=mraster-failure@%n.service" in main and "OnFailure=" in batch_text(out)
    hook = out / "mraster-failure@mraster.service.service"      # an instance of the failure template
    hook.write_text((out / "mraster-failure@.service").read_text())
    assert verify([hook]).returncode == 0
    assert "ops notify --failed-unit %i" in hook.read_text() and "OnFailure" not in hook.read_text()
    batch = (out / "mraster-daily-batch.service").read_text()
    assert "ExecStartPre=+/usr/bin/systemctl stop mraster.service" in batch          # privileged stop only
    assert "ops daily-batch --no-restart --engines none" in batch
    assert "Unit=mraster-daily-batch.service" in (out / "mraster-daily-stop.timer").read_text()
    assert "ops report --mode prod --send" in (out / "mraster-daily-report.service").read_text()


def batch_text(out: Path) -> str:
    return (out / "mraster-daily-batch.service").read_text()


def test_a_broken_unit_fails_verify(work, tmp_path):
    """The check itself: a unit with a bad calendar or a missing program is refused."""
    out, _ = generate(work, tmp_path)
    timer = out / "mraster-daily-stop.timer"
    timer.write_text(timer.read_text().replace("OnCalendar=*-*-* 23:55:00 UTC", "OnCalendar=Sunday 25:99"))
    assert verify([timer]).returncode != 0
    svc = out / "mraster-daily-report.service"
    svc.write_text(re.sub(r"ExecStart=\S+", "ExecStart=/nonexistent/mraster", svc.read_text()))
    assert verify([svc]).returncode != 0


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.name)
def test_timer_calendars_match_the_schedule_table(job):
    """systemd's own reading of each OnCalendar= equals what the dashboard scheduler computes."""
    base = datetime(2026, 12, 5, 23, 56, 30, tzinfo=timezone.utc)      # a Saturday, just after the stop
    res = subprocess.run([ANALYZE, "calendar", "--iterations=3", f"--base-time={base:%Y-%m-%d %H:%M:%S} UTC",
                          job.calendar.on_calendar()], capture_output=True, text=True, timeout=60, env={"TZ": "UTC"})
    assert res.returncode == 0, res.stderr
    assert f"Normalized form: {job.calendar.on_calendar()}" in res.stdout
    got = re.findall(r"(?:Next elapse|Iter\. #\d): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", res.stdout)
    expect, t = [], base
    for _ in range(3):
        t = job.calendar.next_after(t)
        expect.append(f"{t:%Y-%m-%d %H:%M:%S}")
    assert got == expect


def test_schedule_times_are_the_seeds():
    assert JOBS_BY_NAME["daily-batch"].calendar == Calendar(23, 55)
    assert JOBS_BY_NAME["daily-restart"].calendar == Calendar(0, 0)
    assert JOBS_BY_NAME["weekly-backtest"].calendar == Calendar(0, 20, weekday=6)
    assert JOBS_BY_NAME["daily-report"].calendar == Calendar(0, 35)


def test_environment_template_and_bootstrap(work, tmp_path):
    out, prefix = generate(work, tmp_path)
    env = out / "mraster.env"
    assert env.stat().st_mode & 0o777 == 0o640
    names = {line[1:].split("=", 1)[0] for line in env.read_text().splitlines() if re.match(r"^#[A-Z_]+=", line)}
    assert set(SEED_VARS) <= names
    assert not [line for line in env.read_text().splitlines() if re.match(r"^[A-Z_]+=", line)]   # none set
    shown = dict(line[1:].split("=", 1) for line in env.read_text().splitlines() if re.match(r"^#[A-Z_]+=.", line))
    shown.pop("ASTER_SECRETS_COMMAND")
    assert load_settings(env=shown, use_files=False).settings.log_retention_days == 7   # every value shown is valid
    assert "install -m 0640" in env.read_text()
    boot = out / "bootstrap.sh"
    assert boot.stat().st_mode & 0o111
    assert subprocess.run(["bash", "-n", str(boot)], capture_output=True).returncode == 0
    text = boot.read_text()
    for step in ("useradd --system", "python3 -m venv", "pip\" install --quiet -e", "chown -R \"$SVC_USER",
                 "safe.directory", "install -m 0640 -o root -g \"$SVC_USER\"", "systemctl daemon-reload"):
        assert step in text, step
    assert f"PREFIX={prefix}" in text


def test_one_engine_and_options(work, tmp_path):
    out, prefix = generate(work, tmp_path, "--engine", "guard", "--user", "trader")
    main = (out / "mraster.service").read_text()
    assert f"ExecStart={prefix}/.venv/bin/mraster guard" in main and "User=trader" in main
    assert verify([out / "mraster.service"]).returncode == 0


def test_an_engine_instance_runs_its_kind_module(work, tmp_path):
    out, prefix = generate(work, tmp_path, "--engine", "scanner")       # the default instance of engines.json
    main = (out / "mraster.service").read_text()
    assert f"ExecStart={prefix}/.venv/bin/python -m bot --instance scanner" in main
    assert "Environment=MRASTER_INSTANCE=scanner" in main
    py = prefix / ".venv" / "bin" / "python"
    py.write_text("#!/bin/sh\nexit 0\n")
    py.chmod(0o755)
    res = verify([out / "mraster.service"])
    assert res.returncode == 0, res.stdout + res.stderr


def test_recorder_unit_is_stopped_and_started_with_trading(work, tmp_path):
    out, prefix = generate(work, tmp_path, "--record", "BTCUSDT,ETHUSDT")
    rec = out / "mraster-recorder.service"
    assert f"ExecStart={prefix}/.venv/bin/mraster record --symbols BTCUSDT,ETHUSDT --log-dir {prefix}/logs" in rec.read_text()
    assert "stop mraster.service mraster-recorder.service" in (out / "mraster-daily-batch.service").read_text()
    assert "start mraster.service mraster-recorder.service" in (out / "mraster-daily-restart.service").read_text()
    res = verify([rec, out / "mraster-daily-batch.service", out / "mraster-daily-restart.service"])
    assert res.returncode == 0, res.stdout + res.stderr


def test_bad_options_are_refused_and_nothing_written(work, tmp_path):
    out = tmp_path / "none"
    res = work.mraster("deploy", "systemd", "--out", str(out), "--prefix", "relative/path", "--user", "Bad User",
                       "--engine", "rm -rf", "--record", "btc;rm")
    assert res.returncode == 2
    assert "--prefix 'relative/path'" in res.stderr and "--user 'Bad User'" in res.stderr and "--engine" in res.stderr
    assert "--record 'btc;rm'" in res.stderr
    assert not out.exists()


def test_render_is_pure_and_complete():
    files = render_units(DeployOptions(name="trading"))
    assert "trading.service" in files and "trading-daily-stop.timer" in files
    assert all("mraster.service" not in text for name, text in files.items() if name.endswith((".service", ".timer")))
