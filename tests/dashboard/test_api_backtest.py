"""The Backtest page's API over a real server, with real `python -m backtest job` child processes on the
shipped kline data: grid checked by the backtester's own code (422 naming key and symbol), a sweep with
progress to its ranked table and details, one job per kind, cancel keeping finished chunks, a dashboard
restart losing nothing, and apply writing run/momentum_params.json atomically (a corrupt file kept aside)."""
from __future__ import annotations

import json

import pytest

from tests.dashboard.conftest import wait_for
from tests.dashboard.datapages_helpers import GRID, sweep_body


def finished(c, job_id, timeout=180):
    return wait_for(lambda: (lambda j: j if j["state"] in ("done", "failed", "cancelled") else None)(
        c.get(f"/api/backtest/jobs/{job_id}").json()), timeout, what=f"job {job_id} to finish")


@pytest.mark.parametrize("change, status, words", [
    ({"grid": {"default_grid": {k: v for k, v in GRID.items() if k != "callback_bps"}}}, 422,
     ["callback_bps", "LINKUSDT"]),
    ({"grid": {"default_grid": dict(GRID, T=[0])}}, 422, ["'T'", "whole number"]),
    ({"start_date": "2026-02-05", "end_date": "2026-02-01"}, 422, ["before"]),
    ({"start_date": "02/01/2026"}, 422, ["YYYY-MM-DD"]),
    ({"symbols": ["BTCUSDT"]}, 422, ["BTCUSDT", "not in"]),
    ({"source": {"type": "store"}}, 422, ["store is empty"]),
    ({"kind": "run"}, 422, ["one value per key"]),
    ({"kind": "walk"}, 422, ["kind"]),
    ({"grid": {"settings": {"train_frac": 2}, "default_grid": GRID}}, 422, ["train_frac"]),
    ({"grid": {"default_grid": GRID, "symbols": {"DOTUSDT": {}}}}, 422, ["DOTUSDT", "not among"]),
])
def test_check_refuses_bad_requests_with_the_reason(workspace, serve, client_for, change, status, words):
    server = serve()
    c = client_for(server)
    r = c.post("/api/backtest/check", json=sweep_body(**change))
    assert r.status_code == status, r.text
    for w in words:
        assert w in r.json()["detail"], (w, r.json()["detail"])
    assert c.post("/api/backtest/jobs", json=sweep_body(**change)).status_code == status
    assert c.get("/api/backtest/jobs").json()["jobs"] == []


def test_sweep_runs_ranks_survives_a_restart_and_applies(workspace, serve, client_for):
    server = serve()
    c = client_for(server)
    ok = c.post("/api/backtest/check", json=sweep_body())
    assert ok.status_code == 200 and ok.json()["n_configs"] == 8
    r = c.post("/api/backtest/jobs", json=sweep_body())
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["state"] in ("starting", "building", "checking", "sweeping") and job["running"]
    busy = c.post("/api/backtest/jobs", json=sweep_body())
    if c.get(f"/api/backtest/jobs/{job['id']}").json()["running"]:
        assert busy.status_code == 409 and job["id"] in busy.json()["detail"]
    ids = [job["id"]]
    if busy.status_code == 200:      # the first had already finished: the second is a job of its own
        ids.append(busy.json()["id"])
        assert finished(c, ids[1])["state"] == "done"
    done = finished(c, job["id"])
    assert done["state"] == "done", done["progress"]
    assert done["progress"]["done"] == done["progress"]["total"] > 0
    res = c.get(f"/api/backtest/jobs/{job['id']}/results").json()
    cols = res["columns"]
    assert res["total"] == 8 and [r[cols.index("rank")] for r in res["rows"]] == list(range(1, 9))
    for col in ("is_total_pnl", "oos_total_pnl", "oos_rank", "n_configs_tried", "k", "T", "sl_bps"):
        assert col in cols
    by_pnl = c.get(f"/api/backtest/jobs/{job['id']}/results", params={"sort": "is_trades", "desc": True}).json()
    trades = [r[cols.index("is_trades")] for r in by_pnl["rows"]]
    assert trades == sorted(trades, reverse=True)
    assert c.get(f"/api/backtest/jobs/{job['id']}/results", params={"sort": "nope"}).status_code == 422
    top = res["rows"][0]
    cid = top[cols.index("config_id")]
    det = c.get(f"/api/backtest/jobs/{job['id']}/details/{cid}").json()
    assert det["config_id"] == cid and len(det["equity"]) == len(det["t"]) > 100
    assert det["n_trades"] == top[cols.index("is_trades")] + top[cols.index("oos_trades")]
    assert c.get(f"/api/backtest/jobs/{job['id']}/details/999").status_code == 404

    # a dashboard restart: the job, its state and its results are still there
    server.stop()
    server = serve()
    c = client_for(server)
    again = c.get("/api/backtest/jobs").json()["jobs"]
    assert sorted(j["id"] for j in again) == sorted(ids) and {j["state"] for j in again} == {"done"}

    # apply: a corrupt params file is kept aside and reported, the new one written whole
    params_file = workspace.run_dir / "momentum_params.json"
    params_file.write_text("{not json")
    r = c.post(f"/api/backtest/jobs/{job['id']}/apply", json={"config_id": cid})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kept_aside"] and "corrupt" in body["kept_aside"]
    assert (workspace.run_dir / body["kept_aside"].split("/")[-1]).read_text() == "{not json"
    doc = json.loads(params_file.read_text())
    p = doc["symbols"]["LINKUSDT"]
    assert set(p) == set(GRID)
    for k in ("k", "T", "sl_bps"):
        assert p[k] == top[cols.index(k)]
    assert doc["applied"]["LINKUSDT"]["config_id"] == cid and doc["applied"]["LINKUSDT"]["job"] == job["id"]
    assert not list(workspace.run_dir.glob(".momentum_params.json.*"))      # no temporary file left
    assert c.get("/api/backtest/params").json()["document"] == doc
    for bad in ({"config_id": "x"}, {"config_id": -1}, {}):
        assert c.post(f"/api/backtest/jobs/{job['id']}/apply", json=bad).status_code == 422
    assert c.post(f"/api/backtest/jobs/{job['id']}/apply", json={"config_id": 99}).status_code == 404
    assert c.post("/api/backtest/jobs/20990101T000000-abcdef/apply", json={"config_id": 1}).status_code == 404
    assert json.loads(params_file.read_text()) == doc


def test_cancel_keeps_the_finished_chunks(workspace, serve, client_for):
    server = serve()
    c = client_for(server)
    grid = dict(GRID, k=[0.5, 1.0, 1.5, 2.0, 2.5, 3.0], T=[10, 20, 30, 40, 50, 60], sl_bps=[20, 30, 40, 50])
    body = sweep_body(default_grid=grid, end_date="2026-02-10")
    body["grid"]["settings"]["chunk_size"] = 2        # 72 chunks: the cancel lands mid-sweep
    job = c.post("/api/backtest/jobs", json=body).json()
    wait_for(lambda: c.get(f"/api/backtest/jobs/{job['id']}").json()["progress"].get("done", 0) >= 1, 180,
             what="a first finished chunk")
    out = c.post(f"/api/backtest/jobs/{job['id']}/cancel").json()
    assert out["state"] == "cancelled" and not out["running"], out
    res = c.get(f"/api/backtest/jobs/{job['id']}/results").json()
    assert 0 < res["total"] < 144
    assert "kept" in out["progress"]["message"]
    assert c.post("/api/backtest/jobs/nope/cancel").status_code == 404
    ranked = {r[res["columns"].index("config_id")] for r in res["rows"]}
    unranked = min(set(range(144)) - ranked)
    r = c.post(f"/api/backtest/jobs/{job['id']}/apply", json={"config_id": unranked})
    assert r.status_code == 422 and "no results" in r.json()["detail"]
    assert not (workspace.run_dir / "momentum_params.json").exists()


def test_a_sweep_on_the_recorded_store(workspace, serve, client_for):
    """Record (the recorder's own file code), load into the store from the Data API, sweep the store."""
    from tests.dashboard.datapages_helpers import record_days
    record_days(workspace.log_dir, seconds=150)
    server = serve()
    c = client_for(server)
    assert c.post("/api/data/load", json={}).status_code == 200
    assert c.get("/api/backtest/sources").json()["store"]["exists"] is True
    body = sweep_body(default_grid=dict(GRID, T=2, V=2), symbols=["BTCUSDT", "ETHUSDT"], source={"type": "store"},
                      start_date="2026-02-28", end_date="2026-03-01")
    for change, words in (({"symbols": ["BTCUSDT", "XRPUSDT"]}, "XRPUSDT not in the store"),
                          ({"start_date": "2026-03-02", "end_date": "2026-03-05"}, "no day from 2026-03-02")):
        r = c.post("/api/backtest/check", json=dict(body, **change))
        assert r.status_code == 422 and words in r.json()["detail"], r.text
    job = c.post("/api/backtest/jobs", json=body)
    assert job.status_code == 200, job.text
    done = finished(c, job.json()["id"])
    assert done["state"] == "done", done["progress"]
    assert done["source"]["type"] == "store"
    res = c.get(f"/api/backtest/jobs/{done['id']}/results").json()
    assert res["total"] == 8                     # k x sl_bps per symbol
    assert {r[res["columns"].index("symbol")] for r in res["rows"]} == {"BTCUSDT", "ETHUSDT"}


def test_a_scanner_configuration_is_applied_as_the_bots_settings(workspace, serve, client_for):
    server = serve()
    c = client_for(server)
    grid = {"interval": "5m", "htf_interval": "30m", "rsi_buy_min": [52, 56], "rsi_sell_max": 44, "trend_align": False,
            "align_pad": 2.5, "sl_atr_mult": 1.5, "tp_atr_mult": 2.5}
    body = sweep_body(strategy="scanner", default_grid=grid)
    job = c.post("/api/backtest/jobs", json=body)
    assert job.status_code == 200, job.text
    done = finished(c, job.json()["id"])
    assert done["state"] == "done", done["progress"]
    res = c.get(f"/api/backtest/jobs/{done['id']}/results").json()
    top = dict(zip(res["columns"], res["rows"][0]))
    r = c.post(f"/api/backtest/jobs/{done['id']}/apply", json={"config_id": top["config_id"]})
    assert r.status_code == 200, r.text
    saved = json.loads(workspace.config_file.read_text())
    assert saved["ASTER_RSI_BUY_MIN"] == top["rsi_buy_min"] and saved["ASTER_RSI_SELL_MAX"] == 44
    assert saved["ASTER_ALLOW_TREND_ALIGN"] is False and saved["ASTER_ALIGN_RSI_PAD"] == 2.5
    assert saved["ASTER_INTERVAL"] == "5m" and saved["ASTER_HTF_INTERVAL"] == "30m"
    assert saved["ASTER_SL_ATR_MULT"] == 1.5 and saved["ASTER_TP_ATR_MULT"] == 2.5
    assert "ASTER_RSI_BUY_MIN" in r.json()["result"]["changed"]
    audit = (workspace.root / "dashboard_audit.jsonl").read_text()
    assert "backtest.apply" in audit
    assert not (workspace.run_dir / "momentum_params.json").exists()
