"""Issue 20's "done when": the operator run from the dashboard on the paper exchange with the seed's settings.
The dashboard starts the instance as a real child (`python -m deltaneutral --instance dn1`, its own paper
account OP), the Operator API shows its pair, Close pair closes both legs, Stop stops it cleanly."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mraster.engines import EngineInstance, save_instances
from tests.dashboard.conftest import wait_for
from tests.deltaneutral.harness import PaperExchange, positions

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_started_watched_closed_and_stopped_from_the_dashboard(workspace, serve, client_for, tmp_path):
    with PaperExchange(tmp_path / "px", symbols=("ETHUSDT",), seed=3) as px:
        workspace.write_config({"ASTER_PAPER": True, "ASTER_PAPER_FEED": "synthetic", "ASTER_PAPER_URL": px.url,
                                "ASTER_JOURNAL_FILE": "journal.sqlite"})
        workspace.dotenv_file.write_text("ASTER_ACCOUNTS=OP\n")
        workspace.dotenv_file.chmod(0o600)
        save_instances(workspace.root / "engines.json", [
            EngineInstance("scanner", "scanner"),
            EngineInstance("dn1", "deltaneutral", (("account", "OP"),),
                           (("TRADING_PAIRS", ("ETHUSDT",)), ("LEG_CHECK_SEC", 0.5)))])  # the seed's defaults else
        api = client_for(serve(commands={}, child_env={"PYTHONPATH": str(ROOT)}, stop_timeout=15))
        row = {i["name"]: i for i in api.get("/api/engines").json()["instances"]}["dn1"]
        assert row["page"] == "#/operator/dn1" and row["account"] == "OP"
        assert api.post("/api/engines/dn1/start").json()["status"]["state"] == "running"

        def pair():
            st = api.get("/api/operator/dn1").json()["status"]
            p = (st.get("pairs") or [None])[0]
            return p if p and p["long"] and p["short"] else None
        held = wait_for(pair, timeout=30, what="the operator's pair on the page's API")
        assert held["long"]["account"] == "OP" and held["long"]["qty"] == held["short"]["qty"]
        assert leg_notional(held) <= 22.5 * 1.001                   # CAPITAL 100 x 1.5 % x 15
        assert set(positions(px, "paper-op")) == {"ETHUSDT:LONG", "ETHUSDT:SHORT"}

        api.post("/api/operator/dn1/close-pair")
        wait_for(lambda: positions(px, "paper-op") == {}, timeout=20, what="both legs closed")
        stopped = api.post("/api/engines/dn1/stop").json()["status"]
        assert stopped["state"] == "stopped" and stopped["last_exit_code"] == 0
        trades = api.get("/api/operator/dn1/history").json()["trades"]
        assert sorted(t["action"] for t in trades) == ["close", "close", "open", "open"]
        assert json.loads((workspace.run_dir / "dn1.control.json").read_text())["paused"] is True


def leg_notional(p) -> float:
    return float(p["long"]["qty"]) * float(p["long"]["entry"])
