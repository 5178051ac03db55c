"""The whole maker on one machine: paper exchange with accounts A, B, C, two executor processes on loopback
ports and a coordinator process, as `mraster maker ...` starts them."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal as D

import httpx
import pytest

from maker.testing import MakerRig
from paper.testing import PaperExchange

SECRET = "system-test-secret"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_cycle_runs_turns_phase_and_stops_flat(tmp_path):
    with PaperExchange(tmp_path / "px", symbols=("BTCUSDT",), seed=11) as px:
        rig = MakerRig(tmp_path, px.env(), secret=SECRET, settings={
            "decision_interval": 0.5, "signal_delay_max": 0.3, "maker_expire_seconds": 5,
            "MAX_POSITION_B_USD": 450, "MAX_POSITION_C_USD": 450})
        try:
            rig.start_executor("B")
            rig.start_executor("C")
            # over the wire: unsigned and wrongly signed instructions are refused
            assert rig.post("B", "/instruction", b'{"id":"x1","action":"heartbeat"}', secret="").status_code == 401
            assert rig.post("B", "/instruction", b'{"id":"x2","action":"heartbeat"}', secret="bad").status_code == 401
            assert rig.status("B")["mode"] == "waiting"
            rig.start_coordinator("--strategy", "cycle")
            coord = rig.run_dir / "maker.status.json"

            def phase_turned():
                st = json.loads(coord.read_text())
                return st if st["turns"] >= 1 else None
            st = rig.wait_for(phase_turned, 120, "the first phase turn", child=rig.children["coordinator"])
            assert st["strategy"] == "cycle" and st["executors"]["B"]["reachable"]
            b, c = rig.status("B"), rig.status("C")
            for s in (b, c):
                assert s["mode"] == "active"
                assert abs(D(s["position"])) * D(s["mark"]) <= D("450") * D("1.05")
            # emergency stop of both: flat, nothing open, refusing
            for server in ("B", "C"):
                resp = rig.post(server, "/emergency_stop")
                assert resp.status_code == 200, resp.text
            for server in ("B", "C"):
                s = rig.wait_for(lambda: (x := rig.status(server)) and x["mode"] == "stopped" and
                                 D(x["position"]) == 0 and not x["open_makers"] and x, 10, f"{server} flat")
                assert s["stop_reason"]
            out = subprocess.run([sys.executable, "-m", "commands.main", "maker", "stats", "--json", "--hours", "1"],
                                 cwd=tmp_path, env=rig.env, capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            stats = {r["server"]: r for r in json.loads(out.stdout)}
            assert stats["B"]["maker_orders"] > 0 and D(stats["B"]["maker_volume"]) > 0
            assert 0 < stats["B"]["fill_rate"] <= 1
            via = httpx.get(rig.url("C") + "/stats", params={"hours": 1}, timeout=30).json()
            assert via == stats["C"]
        finally:
            rig.stop_all()


def test_an_executor_without_a_secret_refuses_a_public_bind(tmp_path):
    rig = MakerRig(tmp_path, {"ASTER_PAPER": "true", "ASTER_PAPER_URL": "http://127.0.0.1:9"})
    out = subprocess.run([sys.executable, "-m", "commands.main", "maker", "executor", "--account", "B",
                          "--host", "0.0.0.0", "--port", "0"], cwd=tmp_path, env=rig.env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "MAKER_HMAC_SECRET" in out.stderr
    time.sleep(0)


@pytest.mark.slow
def test_python_dash_m_maker_runs_all_three_and_stops_them(tmp_path):
    """What the dashboard starts: `python -m maker --instance maker` supervises executors and coordinator."""
    from mraster.childproc import ChildProcess
    with PaperExchange(tmp_path / "px", symbols=("BTCUSDT",), seed=12) as px:
        rig = MakerRig(tmp_path, px.env(), settings={"decision_interval": 0.5})
        proc = ChildProcess([sys.executable, "-m", "maker", "--instance", "maker"], tmp_path, rig.env,
                            tmp_path / "run.out")
        proc.start()
        try:
            coord = rig.run_dir / "maker.status.json"

            def both_reachable():
                st = json.loads(coord.read_text())
                ex = st["executors"]
                return st if ex["B"]["reachable"] and ex["C"]["reachable"] and st["mode"] == "trading" else None
            rig.wait_for(both_reachable, 60, "coordinator reaching both executors", child=proc)
        finally:
            assert proc.stop(20.0) == 0
        for name in ("B", "C"):
            with pytest.raises(httpx.HTTPError):
                httpx.get(rig.url(name) + "/health", timeout=1.0)


def test_the_seeds_scripts_are_the_maker_commands(tmp_path):
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    env = {"MRASTER": f"{sys.executable} -m commands.main", "PATH": "/usr/bin:/bin"}
    for script, words in (("start_executor.sh", "--account ACCOUNT"), ("start_coordinator.sh", "--strategy"),
                          ("query_stats.sh", "--hours HOURS")):
        out = subprocess.run(["sh", "-c", f'MRASTER="{env["MRASTER"]}" exec {root}/scripts/maker/{script} --help'],
                             cwd=root, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and words in out.stdout, (script, out.stderr)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_maker_trial_holds_every_invariant(tmp_path):
    """`mraster trial --engine maker`: the whole fault schedule (about 3 minutes), exit code 0."""
    out = subprocess.run([sys.executable, "-m", "commands.main", "trial", "--engine", "maker", "--out",
                          str(tmp_path / "trial")], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads((tmp_path / "trial" / "result.json").read_text())
    assert result["passed"] and result["plan_fulfilled"] and len(result["events"]) == 7
    assert result["silence_checks"] > 0 and result["emergency_stop"]["flat"]
