"""Recorder instances on the Data page's API: added as engine instances of kind `recorder` (engines.json),
two recorders never share a symbol (422 with the reason at add and edit, 409 at start against the classic
recorder), no account, no guard, no credentials; a real recorder instance started against a paper
exchange writes its own status file and CSV directory, shows per instance, stops, and the store loads its
days with the classic recorder's.

Real parts: uvicorn servers on 127.0.0.1, real child processes (a script that dumps its environment, and
`python -m recorder --instance NAME` on a real paper exchange)."""
from __future__ import annotations

import json

from tests.dashboard.conftest import wait_for
from tests.dashboard.datapages_helpers import SYMBOLS, record_days
from tests.dashboard.test_engines_api import ENV_DUMP


def by_name(listing):
    return {r["name"]: r for r in listing["recorders"]}


def test_recorder_instances_are_added_with_their_own_symbols_and_never_share_one(workspace, serve, client_for):
    server = serve()
    c = client_for(server)
    assert c.get("/api/data/recorders").json()["recorders"] == []      # nothing yet: no classic card either

    r = c.post("/api/data/recorders", json={"name": "rec1", "symbols": "btcusdt,ETHUSDT"})
    assert r.status_code == 200, r.text
    assert r.json()["symbols"] == ["BTCUSDT", "ETHUSDT"] and r.json()["accounts"] == {}
    assert r.json()["directory"] == str(workspace.log_dir / "recorders" / "rec1")
    assert c.post("/api/data/recorders", json={"name": "rec2", "symbols": ["SOLUSDT"]}).status_code == 200

    r = c.post("/api/data/recorders", json={"name": "rec3", "symbols": ["SOLUSDT", "XRPUSDT", "ETHUSDT"]})
    assert r.status_code == 422
    assert "ETHUSDT is already taken by recorder instance rec1" in r.json()["detail"]
    assert "SOLUSDT is already taken by recorder instance rec2" in r.json()["detail"]
    r = c.post("/api/engines", json={"name": "rec3", "kind": "recorder", "settings": {"SYMBOLS": "SOLUSDT"}})
    assert r.status_code == 422 and "SOLUSDT is already taken by recorder instance rec2" in r.json()["detail"]
    r = c.patch("/api/engines/rec2", json={"settings": {"SYMBOLS": "SOLUSDT,BTCUSDT"}})
    assert r.status_code == 422 and "BTCUSDT is already taken by recorder instance rec1" in r.json()["detail"]
    r = c.post("/api/engines", json={"name": "rec3", "kind": "recorder", "settings": {"SYMBOLS": ""}})
    assert r.status_code == 422 and "fewer than 1" in r.json()["detail"]
    r = c.post("/api/data/recorders", json={"name": "rec3", "symbols": [f"S{i}USDT" for i in range(61)]})
    assert r.status_code == 422 and "at most 60" in r.json()["detail"]
    r = c.post("/api/engines", json={"name": "rec3", "kind": "recorder", "accounts": {"account": "main"}})
    assert r.status_code == 422 and "takes no accounts" in r.json()["detail"]
    r = c.post("/api/data/recorders", json={"name": "Bad!", "symbols": ["ADAUSDT"]})
    assert r.status_code == 422 and "lower-case letter" in r.json()["detail"]

    # a disabled instance records nothing, so its symbols are free; enabling it again is checked
    assert c.patch("/api/engines/rec2", json={"enabled": False}).status_code == 200
    assert c.post("/api/data/recorders", json={"name": "rec3", "symbols": ["SOLUSDT"]}).status_code == 200
    r = c.patch("/api/engines/rec2", json={"enabled": True})
    assert r.status_code == 422 and "SOLUSDT is already taken by recorder instance rec3" in r.json()["detail"]

    listing = by_name(c.get("/api/data/recorders").json())
    assert set(listing) == {"rec1", "rec2", "rec3"}
    assert listing["rec1"]["process"]["state"] == "stopped" and listing["rec1"]["status"] is None
    assert listing["rec1"]["page"] == "#/data/rec1"
    saved = json.loads((workspace.root / "engines.json").read_text())["instances"]
    assert {i["name"]: i["settings"]["SYMBOLS"] for i in saved if i["kind"] == "recorder"} == {
        "rec1": ["BTCUSDT", "ETHUSDT"], "rec2": ["SOLUSDT"], "rec3": ["SOLUSDT"]}
    assert all(i["accounts"] == {} for i in saved if i["kind"] == "recorder")
    assert c.post("/api/data/recorders/nope/start").status_code == 404
    assert c.post("/api/data/recorders/rec1/jump").status_code == 422


def test_a_recorder_instance_runs_without_account_guard_or_credentials(workspace, serve, client_for):
    workspace.run_dir.mkdir(exist_ok=True)
    dumper = workspace.script("dumper", ENV_DUMP)
    server = serve(commands={"rec1": dumper + ("rec1",)}, stop_timeout=5)
    c = client_for(server)
    assert c.post("/api/data/recorders", json={"name": "rec1", "symbols": ["BTCUSDT"]}).status_code == 200
    r = c.post("/api/engines/rec1/start")
    assert r.status_code == 200, r.text
    assert r.json()["also_started"] == []                       # no guard: the recorder holds no position
    env = wait_for(lambda: (workspace.run_dir / "rec1.env.json").exists()
                   and json.loads((workspace.run_dir / "rec1.env.json").read_text()), 20, what="the child's env")
    assert env["MRASTER_INSTANCE"] == "rec1" and "MRASTER_ACCOUNT" not in env and env["MRASTER_ACCOUNTS"] == ""
    procs = c.get("/api/engines").json()
    assert not [i for i in procs["instances"] if i["name"].startswith("guard")]
    assert by_name(c.get("/api/data/recorders").json())["rec1"]["process"]["state"] == "running"
    r = c.post("/api/data/recorders/rec1/stop")
    assert r.status_code == 200 and r.json()["process"]["state"] == "stopped"


def test_two_recorders_on_the_paper_exchange_and_the_store_sees_each_day_once(workspace, serve, client_for,
                                                                              tmp_path):
    from paper.testing import PaperExchange
    record_days(workspace.log_dir)                              # the classic recorder's days (3 symbols)
    with PaperExchange(tmp_path / "px", symbols=("BTCUSDT", "ETHUSDT"), seed=3) as px:
        workspace.write_config({"ASTER_PAPER": True, "ASTER_PAPER_URL": px.url, "ASTER_PAPER_FEED": "synthetic"})
        server = serve(stop_timeout=10)
        c = client_for(server)
        assert c.post("/api/data/recorders", json={"name": "rec1", "symbols": ["ETHUSDT"]}).status_code == 200
        assert c.post("/api/data/recorders", json={"name": "rec2", "symbols": ["BTCUSDT"]}).status_code == 200
        listing = by_name(c.get("/api/data/recorders").json())
        assert set(listing) == {"recorder", "rec1", "rec2"} and listing["recorder"]["classic"] is True

        r = c.post("/api/data/recorders/rec1/start")
        assert r.status_code == 200, r.text
        assert r.json()["process"]["state"] == "running"
        # the classic recorder may not record ETHUSDT while rec1 does
        r = c.post("/api/data/recorders/recorder/start", json={"symbols": ["ETHUSDT"]})
        assert r.status_code == 409 and "rec1 is recording ETHUSDT" in r.json()["detail"]

        def written():
            rec = by_name(c.get("/api/data/recorders").json())["rec1"]
            s = rec["status"] or {}
            files = s.get("files") or {}
            return rec if s.get("state") == "running" and files.get("bookTicker", {}).get("rows_today", 0) >= 3 else None
        rec1 = wait_for(written, 60, what="rows written by recorder instance rec1")
        s = rec1["status"]
        assert s["instance"] == "rec1" and s["symbols"] == ["ETHUSDT"] and s["positions"] == []
        assert set(s["last_message_age_s"]) == {"ETHUSDT"} and s["streams"]["depth5@100ms"]["messages"] > 0
        assert rec1["process"]["pid"] == s["pid"] and rec1["status_age_s"] is not None
        inst_dir = workspace.log_dir / "recorders" / "rec1"
        assert {f["path"] for f in s["files"].values()} == {  # relative to the base directory, as the child runs
            str(p.relative_to(workspace.root)) for p in inst_dir.glob("*.csv") if not p.name.startswith("gaps")}
        assert (workspace.run_dir / "rec1.status.json").exists()
        assert (workspace.log_dir / "rec1.jsonl").exists()
        assert json.loads((workspace.log_dir / "recorder_status.json").read_text())["symbols"] == SYMBOLS, \
            "the classic recorder's status file is not touched by an instance"
        rec2 = by_name(c.get("/api/data/recorders").json())["rec2"]
        assert rec2["process"]["state"] == "stopped" and rec2["status"] is None

        r = c.post("/api/data/recorders/rec1/stop")
        assert r.status_code == 200 and r.json()["process"]["state"] == "stopped"
        wait_for(lambda: (by_name(c.get("/api/data/recorders").json())["rec1"]["status"] or {}).get("state")
                 == "stopped", 20, what="rec1's final status")

        days = {d["day"]: d for d in c.get("/api/data/days").json()["days"]}
        today = s["day"]
        assert "rec1" in days[today]["recorders"]
        assert c.post("/api/data/load", json={}).status_code == 200
        cov = c.get("/api/data/coverage").json()
        iso = f"{today[:4]}-{today[4:6]}-{today[6:]}"
        assert "ETHUSDT" in {r["symbol"] for r in cov["rows"] if r["date"] == iso}
        rows = c.post("/api/data/query", json={
            "sql": f"select count(*) as n, count(distinct ts_unix_ms) as s from book_ticker "
                   f"where symbol = 'ETHUSDT' and date = DATE '{iso}'"}).json()["rows"][0]
        assert rows[0] == rows[1] >= 3, "each second once"
        again = c.post("/api/data/load", json={"date": today})
        assert again.status_code == 200
        assert c.post("/api/data/query", json={
            "sql": f"select count(*) from book_ticker where symbol = 'ETHUSDT' and date = DATE '{iso}'"}
        ).json()["rows"][0][0] == rows[0], "loading again doubles nothing"
