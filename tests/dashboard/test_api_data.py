"""The Data page's API over a real server: the recorder's figures from its status file, CSV days on disk,
the store through `mraster data` child processes (load, coverage, read-only queries, CSV export), input
validation (422 with the reason), and (slow) starting and stopping a real recorder on a paper exchange."""
from __future__ import annotations

import csv
import io
import json

import pytest

from tests.dashboard.conftest import wait_for
from tests.dashboard.datapages_helpers import SYMBOLS, record_days


def test_recorder_figures_days_and_store(workspace, serve, client_for):
    status = record_days(workspace.log_dir)
    server = serve()
    c = client_for(server)

    rec = c.get("/api/data/recorder").json()
    assert rec["process"]["state"] == "stopped"
    assert rec["status"]["symbols"] == SYMBOLS
    assert rec["status"]["files"] == status["files"]
    assert rec["status"]["gaps_today"] == status["gaps_today"] >= 1

    days = c.get("/api/data/days").json()["days"]
    assert [d["day"] for d in days] == ["20260301", "20260228"]
    for d in days:
        for family, size in d["files"].items():
            assert size == (workspace.log_dir / f"{family}_{d['day']}.csv").stat().st_size
        assert d["bytes"] == sum(d["files"].values())
    assert days[0]["gaps"].get("reconnect") == 1

    cov = c.get("/api/data/coverage").json()
    assert cov["exists"] is False and cov["rows"] == []
    r = c.post("/api/data/query", json={"sql": "select 1"})
    assert r.status_code == 422 and "load a recorded day" in r.json()["detail"]

    r = c.post("/api/data/load", json={"date": "2026-03-01"})
    assert r.status_code == 200, r.text
    assert "verified" in r.json()["output"]
    cov = c.get("/api/data/coverage").json()
    assert cov["symbols"] == sorted(SYMBOLS) and cov["dates"] == ["2026-03-01"]
    row = next(x for x in cov["rows"] if x["symbol"] == "BTCUSDT")
    assert row["book_ticker_rows"] == 20 and row["reconnects"] == 1

    q = c.post("/api/data/query", json={"sql": "select symbol, count(*) as n from book_ticker group by 1 order by 1"})
    assert q.status_code == 200, q.text
    assert q.json()["columns"] == ["symbol", "n"]
    assert q.json()["rows"] == [[s, 20] for s in sorted(SYMBOLS)]

    e = c.get("/api/data/export.csv", params={"sql": "select symbol, mid from book_ticker order by ts_unix_ms, symbol"})
    assert e.status_code == 200 and e.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(e.text)))
    assert rows[0] == ["symbol", "mid"] and len(rows) == 1 + 20 * len(SYMBOLS)


@pytest.mark.parametrize("sql, reason", [
    ("", "empty"), ("drop view kline", "only SELECT"), ("select 1; select 2", "one statement"),
    ("delete from _loads", "only SELECT")])
def test_queries_are_read_only_and_checked(workspace, serve, client_for, sql, reason):
    server = serve()
    r = client_for(server).post("/api/data/query", json={"sql": sql})
    assert r.status_code == 422 and reason in r.json()["detail"]


def test_bad_inputs_get_422_with_the_reason_and_sql_errors_400(workspace, serve, client_for):
    record_days(workspace.log_dir, seconds=3)
    server = serve()
    c = client_for(server)
    r = c.post("/api/data/recorder/start", json={"symbols": ["BTC-USDT"]})
    assert r.status_code == 422 and "BTC-USDT" in r.json()["detail"]
    r = c.post("/api/data/recorder/start", json={"symbols": []})
    assert r.status_code == 422
    r = c.post("/api/data/load", json={"date": "yesterday"})
    assert r.status_code == 422 and "YYYY-MM-DD" in r.json()["detail"]
    assert c.post("/api/data/load", json={}).status_code == 200       # every pending day
    r = c.post("/api/data/query", json={"sql": "select nope from kline"})
    assert r.status_code == 400 and "nope" in r.json()["detail"]
    before = json.loads(c.post("/api/data/query", json={"sql": "select count(*) as n from kline"}).text)
    assert before["rows"][0][0] == 2 * 3 * len(SYMBOLS)


@pytest.mark.slow
def test_start_and_stop_a_real_recorder_on_the_paper_exchange(workspace, serve, client_for, tmp_path):
    from paper.testing import PaperExchange
    with PaperExchange(tmp_path / "px", symbols=("BTCUSDT", "ETHUSDT"), seed=3) as px:
        workspace.write_config({"ASTER_PAPER": True, "ASTER_PAPER_URL": px.url, "ASTER_PAPER_FEED": "synthetic"})
        server = serve()
        c = client_for(server)
        r = c.post("/api/data/recorder/start", json={"symbols": ["BTCUSDT", "ETHUSDT"]})
        assert r.status_code == 200, r.text
        assert r.json()["process"]["state"] == "running"
        assert c.post("/api/data/recorder/start", json={"symbols": ["BTCUSDT"]}).status_code == 409

        def written():
            s = c.get("/api/data/recorder").json()["status"] or {}
            files = s.get("files") or {}
            return s if s.get("state") == "running" and files.get("bookTicker", {}).get("rows_today", 0) >= 4 else None
        s = wait_for(written, 60, what="rows written by the recorder")
        assert set(s["last_message_age_s"]) == {"BTCUSDT", "ETHUSDT"}
        assert s["streams"]["depth5@100ms"]["messages"] > 0

        # a dashboard restart adopts the running recorder
        server.stop()
        server2 = serve()
        c2 = client_for(server2)
        rec = c2.get("/api/data/recorder").json()
        assert rec["process"]["state"] == "running" and rec["process"]["adopted"] is True
        r = c2.post("/api/data/recorder/stop")
        assert r.json()["process"]["state"] == "stopped"
        wait_for(lambda: (c2.get("/api/data/recorder").json()["status"] or {}).get("state") == "stopped", 20,
                 what="the recorder's final status")


def test_data_and_backtest_routes_need_the_token_and_the_same_origin(workspace, serve, client_for):
    token = "tok-datapages-51c9a2"
    workspace.dotenv_file.write_text(f"ASTER_DASHBOARD_TOKEN={token}\n")
    server = serve()
    anon = client_for(server)
    for path in ("/api/data/recorder", "/api/data/days", "/api/data/coverage", "/api/backtest/jobs",
                 "/api/backtest/sources", "/api/backtest/params", "/api/data/export.csv?sql=select%201"):
        assert anon.get(path).status_code == 401, path
    assert anon.post("/api/data/recorder/start", json={"symbols": ["BTCUSDT"]}).status_code == 401
    authed = client_for(server, headers={"Authorization": f"Bearer {token}"})
    assert authed.get("/api/data/recorder").status_code == 200
    for path, body in (("/api/data/recorder/start", {"symbols": ["BTCUSDT"]}), ("/api/data/load", {}),
                       ("/api/backtest/jobs", {}), ("/api/data/recorder/stop", None)):
        r = authed.post(path, json=body, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and "cross-site" in r.json()["detail"], path
    assert not (workspace.run_dir / "recorder_args.json").exists()
