"""Supervision with real child processes: start, status, crash detection with automatic restart,
SIGTERM then SIGKILL, restart, and a new supervisor (a restarted dashboard) finding its children."""
from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest

from mraster.procinfo import identity_of, is_alive, read_pid_file
from dashboard.services.supervisor import Backoff, ChildSpec, Supervisor

from tests.dashboard.conftest import CRASHER, SLEEPER, STUBBORN, Workspace, async_wait_for


def spec(ws: Workspace, name: str, argv: tuple[str, ...], restartable: bool = True) -> ChildSpec:
    return ChildSpec(name=name, argv=argv, cwd=ws.root, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                     out_file=ws.log_dir / f"{name}.out", pid_file=ws.run_dir / f"{name}.pid",
                     restartable=restartable)


def make(ws: Workspace, specs: dict[str, ChildSpec], **kw) -> Supervisor:
    kw.setdefault("poll_interval", 0.05)
    kw.setdefault("stop_timeout", 5.0)
    return Supervisor(specs, **kw)


def out_text(ws: Workspace, name: str) -> str:
    path = ws.log_dir / f"{name}.out"
    return path.read_text() if path.exists() else ""


async def test_start_status_stop(workspace: Workspace):
    sup = make(workspace, {"bot": spec(workspace, "bot", workspace.script("sleeper", SLEEPER) + ("bot",))})
    await sup.open()
    try:
        status = await sup.start("bot")
        assert status["state"] == "running" and status["pid"] > 0
        pid = status["pid"]
        await async_wait_for(lambda: "bot up" in out_text(workspace, "bot"), what="child output in bot.out")
        record = read_pid_file(workspace.run_dir / "bot.pid")
        assert record.identity.pid == pid and record.identity.cmdline[-1] == "bot"
        assert record.identity.start_ticks == identity_of(pid).start_ticks
        assert os.getpgid(pid) == pid, "the child leads its own process group (own session)"
        assert (await sup.start("bot"))["pid"] == pid, "starting a running child is a no-op"
        status = await sup.stop("bot")
        assert status["state"] == "stopped" and status["last_exit_code"] == 0
        assert "got SIGTERM" in out_text(workspace, "bot")
        assert not (workspace.run_dir / "bot.pid").exists()
        assert identity_of(pid) is None or not is_alive(record.identity)
    finally:
        await sup.close()


async def test_crash_is_detected_and_restarted_with_backoff(workspace: Workspace):
    sup = make(workspace, {"guard": spec(workspace, "guard", workspace.script("crasher", CRASHER))},
               backoff=Backoff(initial=0.2, maximum=0.4, stable_after=60))
    await sup.open()
    try:
        await sup.start("guard")
        status = await async_wait_for(lambda: sup.status("guard")["restart_count"] >= 2 and sup.status("guard"),
                                      what="two automatic restarts")
        assert status["last_exit_code"] == 3
        assert any("something went wrong" in line for line in sup.status("guard")["out_tail"]) or \
            status["state"] in ("running", "restarting")
        crashed = await async_wait_for(lambda: sup.status("guard")["state"] == "restarting" and sup.status("guard"),
                                       what="the restarting state")
        assert "crashed" in crashed["message"] and "exit code 3" in crashed["message"]
        assert 0 < crashed["next_restart_in_s"] <= 0.4
        assert "something went wrong" in "\n".join(crashed["out_tail"])
    finally:
        await sup.stop("guard")
        await sup.close()


async def test_crash_without_auto_restart_stays_crashed(workspace: Workspace):
    sup = make(workspace, {"bot": spec(workspace, "bot", workspace.script("crasher", CRASHER))},
               auto_restart=lambda: False)
    await sup.open()
    try:
        await sup.start("bot")
        status = await async_wait_for(lambda: sup.status("bot")["state"] == "crashed" and sup.status("bot"))
        assert status["last_exit_code"] == 3 and status["pid"] is None and status["restart_count"] == 0
        assert status["next_restart_in_s"] is None
        assert (await sup.stop("bot"))["state"] == "stopped"
    finally:
        await sup.close()


async def test_config_error_exit_is_not_restarted(workspace: Workspace):
    cmd = workspace.script("bad_config", "import sys\nprint('mraster bot: invalid configuration')\nsys.exit(2)\n")
    sup = make(workspace, {"bot": spec(workspace, "bot", cmd)}, backoff=Backoff(0.05, 0.1, 60))
    await sup.open()
    try:
        await sup.start("bot")
        status = await async_wait_for(lambda: sup.status("bot")["state"] == "crashed" and sup.status("bot"))
        assert "configuration is invalid" in status["message"]
        assert status["next_restart_in_s"] is None
    finally:
        await sup.close()


async def test_sigterm_then_sigkill(workspace: Workspace):
    sup = make(workspace, {"bot": spec(workspace, "bot", workspace.script("stubborn", STUBBORN))}, stop_timeout=0.5)
    await sup.open()
    try:
        pid = (await sup.start("bot"))["pid"]
        await async_wait_for(lambda: "stubborn up" in out_text(workspace, "bot"), what="SIGTERM handler installed")
        started = time.monotonic()
        status = await sup.stop("bot")
        assert time.monotonic() - started >= 0.5, "SIGKILL only after the timeout"
        assert status["state"] == "stopped"
        assert status["last_exit_code"] == -signal.SIGKILL
        assert "killed after ignoring SIGTERM" in status["message"]
        assert identity_of(pid) is None
    finally:
        await sup.close()


async def test_restart_counts_and_gives_a_new_process(workspace: Workspace):
    sup = make(workspace, {"bot": spec(workspace, "bot", workspace.script("sleeper", SLEEPER))})
    await sup.open()
    try:
        first = (await sup.start("bot"))["pid"]
        status = await sup.restart("bot")
        assert status["state"] == "running" and status["pid"] != first and status["restart_count"] == 1
        assert identity_of(first) is None
    finally:
        await sup.stop("bot")
        await sup.close()


async def test_a_new_dashboard_adopts_running_children(workspace: Workspace):
    specs = {"bot": spec(workspace, "bot", workspace.script("sleeper", SLEEPER))}
    first = make(workspace, specs)
    await first.open()
    pid = (await first.start("bot"))["pid"]
    ident = identity_of(pid)
    await async_wait_for(lambda: "child up" in out_text(workspace, "bot"), what="SIGTERM handler installed")
    await first.close()  # the dashboard goes away; the child must stay
    assert is_alive(ident)
    second = make(workspace, specs)
    await second.open()
    try:
        status = second.status("bot")
        assert status["state"] == "running" and status["pid"] == pid and status["adopted"] is True
        assert "adopted" in status["message"]
        assert status["uptime_s"] is not None and status["uptime_s"] >= 0
        stopped = await second.stop("bot")  # an adopted child is stopped the same way
        assert stopped["state"] == "stopped" and stopped["last_exit_code"] is None
        assert not is_alive(ident)  # (a zombie until reaped: here the test process is still its parent)
        assert first._children["bot"].proc.wait(5) == 0, "it left on SIGTERM"
    finally:
        await second.close()


async def test_adopted_child_that_dies_is_shown_crashed(workspace: Workspace):
    specs = {"guard": spec(workspace, "guard", workspace.script("sleeper", SLEEPER))}
    first = make(workspace, specs)
    await first.open()
    pid = (await first.start("guard"))["pid"]
    await first.close()
    second = make(workspace, specs, auto_restart=lambda: False)
    await second.open()
    try:
        os.kill(pid, signal.SIGKILL)
        first._children["guard"].proc.wait(5)  # reap it: it is still the first supervisor's child here
        status = await async_wait_for(lambda: second.status("guard")["state"] == "crashed" and second.status("guard"))
        assert "unknown (adopted process)" in status["message"]
    finally:
        await second.close()


async def test_pid_reuse_and_other_commands_are_not_adopted(workspace: Workspace):
    specs = {"bot": spec(workspace, "bot", workspace.script("sleeper", SLEEPER))}
    workspace.run_dir.mkdir(parents=True)
    me = identity_of(os.getpid())
    # the pid is alive, but its start time differs: the pid was reused by another process
    (workspace.run_dir / "bot.pid").write_text(json.dumps(
        {"pid": me.pid, "start_time": me.start_ticks + 1, "cmdline": list(me.cmdline)}))
    sup = make(workspace, specs)
    await sup.open()
    try:
        status = sup.status("bot")
        assert status["state"] == "stopped" and status["pid"] is None
        assert "gone" in status["message"] and sup.notices
    finally:
        await sup.close()
    # same pid and start time but another command line (the file was edited, or names another program)
    (workspace.run_dir / "bot.pid").write_text(json.dumps(
        {"pid": me.pid, "start_time": me.start_ticks, "cmdline": [sys.executable, "-m", "bot"]}))
    sup = make(workspace, specs)
    await sup.open()
    try:
        assert sup.status("bot")["state"] == "stopped"
        assert "runs another command" in sup.status("bot")["message"]
    finally:
        await sup.close()


async def test_unreadable_pid_file_is_moved_aside_and_reported(workspace: Workspace):
    workspace.run_dir.mkdir(parents=True)
    (workspace.run_dir / "bot.pid").write_text("{not json")
    sup = make(workspace, {"bot": spec(workspace, "bot", workspace.script("sleeper", SLEEPER))})
    await sup.open()
    try:
        assert "unreadable" in sup.status("bot")["message"]
        assert list(workspace.run_dir.glob("bot.pid.corrupt-*")), "the bad file is kept aside, not deleted"
    finally:
        await sup.close()


async def test_pid_file_written_by_another_process_is_adopted(workspace: Workspace):
    """The bot starts a paper exchange itself when none answers and records it in run/paper.pid."""
    cmd = workspace.script("sleeper", SLEEPER)
    sup = make(workspace, {"paper": spec(workspace, "paper", cmd)})
    await sup.open()
    import subprocess
    proc = subprocess.Popen(list(cmd), start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        ident = await async_wait_for(lambda: identity_of(proc.pid) if identity_of(proc.pid) and
                                     identity_of(proc.pid).cmdline == cmd else None)
        workspace.run_dir.mkdir(parents=True, exist_ok=True)
        (workspace.run_dir / "paper.pid").write_text(json.dumps(
            {"pid": proc.pid, "start_time": ident.start_ticks, "cmdline": list(cmd)}))
        status = await async_wait_for(lambda: sup.status("paper")["state"] == "running" and sup.status("paper"),
                                      what="adoption of the paper exchange")
        assert status["pid"] == proc.pid and status["adopted"]
    finally:
        proc.kill()
        proc.wait()
        await sup.close()


def test_backoff_doubles_up_to_the_maximum():
    b = Backoff(initial=1, maximum=8)
    assert [b.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


@pytest.mark.parametrize("argv", [("/nonexistent/program",)])
async def test_a_command_that_cannot_start_is_reported(workspace: Workspace, argv):
    from dashboard.services.supervisor import SupervisorError
    sup = make(workspace, {"bot": spec(workspace, "bot", argv)})
    await sup.open()
    try:
        with pytest.raises(SupervisorError, match="could not start"):
            await sup.start("bot")
        assert sup.status("bot")["state"] == "crashed"
    finally:
        await sup.close()
