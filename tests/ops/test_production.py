"""`mraster deploy production on|off|status` and `mraster ops engines` drive systemctl (here a recording
stand-in, run as a real program through MRASTER_SYSTEMCTL)."""
from __future__ import annotations

from ops.systemd import production_units


def test_on_off_status(work, fake_systemctl):
    env = {"MRASTER_SYSTEMCTL": str(fake_systemctl.path)}
    units = production_units("mraster")
    res = work.mraster("deploy", "production", "on", extra_env=env)
    assert res.returncode == 0, res.stderr
    assert fake_systemctl.calls() == ["show -p LoadState mraster-recorder.service", "daemon-reload",
                                      "enable --now " + " ".join(units)]
    assert "production ON" in res.stdout

    res = work.mraster("deploy", "production", "status", extra_env=env)
    assert res.returncode == 3 and "OFF or incomplete" in res.stdout     # the stand-in says "disabled"
    state = {u: "active" for u in units} | {f"enabled:{u}": "enabled" for u in units}
    fake_systemctl.set_state(**state)
    res = work.mraster("deploy", "production", "status", extra_env=env)
    assert res.returncode == 0 and "production is ON" in res.stdout
    assert all(u in res.stdout for u in units)

    res = work.mraster("deploy", "production", "off", extra_env=env)
    assert res.returncode == 0
    assert fake_systemctl.calls()[-1] == "disable --now " + " ".join(reversed(units))   # timers first


def test_a_recorder_unit_joins_production_and_the_batch(work, fake_systemctl):
    env = {"MRASTER_SYSTEMCTL": str(fake_systemctl.path)}
    fake_systemctl.set_state(load="loaded", **{"mraster.service": "active"})
    assert work.mraster("deploy", "production", "on", extra_env=env).returncode == 0
    assert "mraster-recorder.service" in fake_systemctl.calls()[-1]
    res = work.mraster("ops", "daily-batch", "--engines", "auto", extra_env=env)
    assert res.returncode == 0, res.stderr
    assert "stop mraster.service mraster-recorder.service" in fake_systemctl.calls()
    assert fake_systemctl.calls()[-1] == "start mraster.service mraster-recorder.service"


def test_a_failing_systemctl_is_reported(work, fake_systemctl, tmp_path):
    broken = tmp_path / "broken-systemctl"
    broken.write_text("#!/bin/sh\necho 'Failed to connect to bus' >&2\nexit 1\n")
    broken.chmod(0o755)
    res = work.mraster("deploy", "production", "on", extra_env={"MRASTER_SYSTEMCTL": str(broken)})
    assert res.returncode == 1
    assert "systemctl daemon-reload exited 1" in res.stderr and "Failed to connect to bus" in res.stderr


def test_engines_start_stop_use_the_configured_unit(work, fake_systemctl):
    work.config({"ASTER_PAPER": True, "ASTER_OPS_SERVICE": "trading"})
    env = {"MRASTER_SYSTEMCTL": str(fake_systemctl.path)}
    assert work.mraster("ops", "engines", "start", extra_env=env).returncode == 0
    assert work.mraster("ops", "engines", "stop", extra_env=env).returncode == 0
    assert [c for c in fake_systemctl.calls() if not c.startswith("show")] == [
        "start trading.service", "is-active trading.service", "stop trading.service"]
