"""The kill-switch latch in the dashboard: shown in the status API and on the page while it holds,
reset only by a person's confirmed request (issue 12 item 9)."""
from __future__ import annotations

from mraster.safety.killswitch import entries_blocked, fire, latch_path, account_key


def test_latched_state_is_shown_and_a_confirmed_reset_releases_it(workspace, serve, client_for):
    settings = workspace.loader()().settings.with_values(run_dir=str(workspace.run_dir))
    api = client_for(serve())
    assert api.get("/api/state").json()["kill_switch"]["latched"] is False

    fire(latch_path(settings), account_key(settings), "guard", "BTCUSDT LONG (ISOLATED): margin 1.1 x maintenance")
    state = api.get("/api/state").json()["kill_switch"]
    assert state["latched"] is True and state["fired_by"] == "guard" and "ISOLATED" in state["reason"]
    assert api.get("/api/killswitch").json()["latched"] is True
    assert "kill-switch latched" in entries_blocked(settings)
    assert 'id="killswitch-banner"' in api.get("/").text

    refused = api.post("/api/killswitch/reset", json={})
    assert refused.status_code == 422 and api.get("/api/killswitch").json()["latched"] is True

    done = api.post("/api/killswitch/reset", json={"confirm": "RESET"}).json()
    assert done["latched"] is False and done["was_latched"] is True and done["reset_by"].startswith("dashboard:")
    assert done["reason"].startswith("BTCUSDT"), "the last firing stays on record"
    assert api.get("/api/state").json()["kill_switch"]["latched"] is False
    assert entries_blocked(settings) == ""
