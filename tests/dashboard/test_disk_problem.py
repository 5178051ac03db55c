"""The dashboard's bot status says when the bot cannot write to disk (issue 12 item 2)."""
from __future__ import annotations

from tests.dashboard.fakes import build_state, write_state


def test_bot_status_names_the_disk_problem(workspace, serve, client_for):
    state = build_state()
    state.disk_problem = "journal: OperationalError: database or disk is full"
    write_state(workspace.root / "aster_state.json", state)
    snap = client_for(serve()).get("/api/state").json()["state"]
    assert snap["disk_problem"] == state.disk_problem
    assert "cannot write to disk" in snap["problem"] and "database or disk is full" in snap["problem"]


def test_no_disk_problem_no_text(workspace, serve, client_for):
    write_state(workspace.root / "aster_state.json")
    snap = client_for(serve()).get("/api/state").json()["state"]
    assert snap["disk_problem"] == "" and "disk" not in snap["problem"]
