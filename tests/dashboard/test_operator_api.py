"""The Operator page's API over a real operator's files (status, control, trade database, engines.json)."""
from __future__ import annotations

import json

import pytest

from tests.deltaneutral.harness import LoopThread, PaperExchange, close_clients, make_operator, positions


@pytest.fixture
def operator_ws(workspace, tmp_path):
    """A workspace whose dn1 instance has traded one pair on a real paper exchange."""
    with PaperExchange(tmp_path / "px", symbols=("BTCUSDT",), seed=3) as px:
        workspace.write_config({"ASTER_PAPER": True, "ASTER_PAPER_FEED": "synthetic", "ASTER_JOURNAL_FILE": "journal.sqlite"})
        op = make_operator(px, workspace.root)
        loop = LoopThread()                      # one loop: the operator's HTTP client lives on it
        op.run_in = loop.run

        async def open_pair():
            await op.setup()
            await op.adopt(await op.now_ms())
            await op.tick()
            op.write_status(op.long.exchange.now_ms())
        op.run_in(open_pair())
        yield workspace, px, op
        op.run_in(close_clients(op))
        loop.close()


def test_status_history_export_pause_close_and_settings(operator_ws, serve, client_for):
    workspace, px, op = operator_ws
    api = client_for(serve())
    assert api.get("/api/operator").json() == {"instances": ["dn1"]}
    assert api.get("/api/operator/nope").status_code == 404
    data = api.get("/api/operator/dn1").json()
    pair = data["status"]["pairs"][0]
    assert pair["long"]["qty"] == pair["short"]["qty"] and data["accounts"] == {"account": "main"}
    assert any("6.7 %" in w for w in data["warnings"])
    hist = api.get("/api/operator/dn1/history").json()
    assert len(hist["trades"]) == 2 and len(hist["positions"]) == 2 and hist["daily"][0]["trades"] == 2
    csv = api.get("/api/operator/dn1/export.csv", params={"table": "trades"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert len(lines) == 3 and "client_order_id" in lines[0]
    assert api.get("/api/operator/dn1/export.csv", params={"table": "orders"}).status_code == 422

    assert api.post("/api/operator/dn1/pause", json={"paused": True}).json()["paused"] is True
    assert json.loads((workspace.run_dir / "dn1.control.json").read_text())["paused"] is True
    assert api.post("/api/operator/dn1/close-pair").json()["paused"] is True

    async def next_checks():
        await op.tick()
        op.next_cycle_ms = 0
        await op.tick()                    # a cycle while paused: no new pair
    op.run_in(next_checks())
    assert positions(px) == {}
    assert any(e["event"] == "pair.closed.manual" for e in op.events)

    bad = api.post("/api/operator/dn1/settings", json={"settings": {"LEVERAGE": "200"}})
    assert bad.status_code == 422 and "LEVERAGE" in bad.json()["detail"]
    ok = api.post("/api/operator/dn1/settings", json={"settings": {"POSITION_HOLD_TIME_MIN": "60"}}).json()
    assert any("multiplier" in w for w in ok["warnings"]) and ok["restart_needed"]
    saved = json.loads((workspace.root / "engines.json").read_text())["instances"][0]["settings"]
    assert saved["POSITION_HOLD_TIME_MIN"] == 60.0 and saved["CAPITAL_USDT"] == 1000
