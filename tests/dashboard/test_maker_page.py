"""The Maker page (#/maker): its API over the coordinator's status file and the executors' HTTP, signed
emergency stop and reset, and the page itself in Debian's Chromium."""
from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mraster.domain.signed import SIG_HEADER, TS_HEADER, Verifier
from tests.dashboard.conftest import ServerThread
from tests.dashboard.test_browser import browser, page, shot  # noqa: F401 - fixtures

SECRET = "dash-maker-secret"


class FakeExecutor:
    """An executor's HTTP face: health, status, and stop/reset requests recorded with their signatures."""

    def __init__(self, name: str):
        self.name, self.mode, self.calls = name, "active", []
        self.verifier = Verifier(SECRET)

        async def health(request: Request) -> JSONResponse:
            return JSONResponse({"ok": self.mode == "active", "server": name, "mode": self.mode, "venue_error": ""})

        async def status(request: Request) -> JSONResponse:
            return JSONResponse({"server": name, "mode": self.mode, "position": "0.012" if name == "B" else "-0.010",
                                 "mark": "100000", "notional": "1200", "max_usd": "5000", "stop_reason": "",
                                 "open_makers": [{"client_id": f"maker:{name}.mk.1", "side": "BUY", "qty": "0.002",
                                                  "left": "0.002", "price": "99999.9", "age_s": 3.2,
                                                  "expires_in_s": 26.8}],
                                 "recent_fills": [{"t": 1733385600000, "side": "BUY", "qty": "0.002",
                                                   "price": "100000", "maker": True}],
                                 "realized_pnl": "-0.42", "fees": "0.12", "last_instruction_age_s": 1.0,
                                 "venue_error": ""})

        async def control(request: Request) -> JSONResponse:
            body = await request.body()
            h = request.headers
            self.verifier.check(body, h.get(TS_HEADER), h.get(SIG_HEADER), h.get(SIG_HEADER) or "", int(time.time() * 1000))
            self.calls.append(request.url.path)
            self.mode = "stopped" if request.url.path == "/emergency_stop" else "waiting"
            return JSONResponse({"ok": True, "mode": self.mode})

        self.app = Starlette(routes=[Route("/health", health), Route("/status", status),
                                     Route("/emergency_stop", control, methods=["POST"]),
                                     Route("/reset", control, methods=["POST"])])


def coordinator_status(now_ms: int) -> dict:
    per = {"taker_orders": 15, "taker_volume": "12450", "maker_orders": 143, "maker_volume": "47380",
           "fill_rate": 0.953, "fees": "7.15", "pnl": "-13.70", "pnl_bps": -2.29}
    return {"instance": "maker", "updated_ms": now_ms, "strategy": "cycle", "phase": 2,
            "phase_since_ms": now_ms - 95_000, "time_in_phase_s": 95.0, "turns": 3, "mode": "trading", "reason": "",
            "targets": {"B": "-0.049", "C": "0.049"}, "net": "0.002", "cap": "0.002",
            "book": {"bid": "99999.9", "ask": "100000.0"}, "executors": {},
            "stats": {h: {"B": per, "C": per} for h in ("2", "6", "24")},
            "params": {"step": "0.002", "offset": "0.1", "expire_s": 30.0, "delay_max_s": 5.0, "ratio": "0.04",
                       "decision_interval": 5.0, "max_usd": {"B": "5000", "C": "5000"}}}


@pytest.fixture
def makers(workspace):
    fakes = {s: FakeExecutor(s) for s in ("B", "C")}
    servers = {s: ServerThread(f.app).start() for s, f in fakes.items()}
    workspace.dotenv_file.write_text(f"MAKER_HMAC_SECRET={SECRET}\nSERVER_B_URL={servers['B'].url}\n"
                                     f"SERVER_C_URL={servers['C'].url}\n")
    workspace.run_dir.mkdir(parents=True, exist_ok=True)
    (workspace.run_dir / "maker.status.json").write_text(json.dumps(coordinator_status(int(time.time() * 1000))))
    yield fakes
    for s in servers.values():
        s.stop()


def test_maker_api_reads_status_and_signs_stop_and_reset(workspace, serve, client_for, makers):
    client = client_for(serve())
    assert "maker" in client.get("/api/maker").json()["instances"]
    view = client.get("/api/maker/maker").json()
    assert view["coordinator"]["phase"] == 2 and view["coordinator_age_s"] < 60
    assert view["executors"]["B"]["reachable"] and view["executors"]["C"]["status"]["position"] == "-0.010"
    assert client.get("/api/maker/nope").status_code == 404
    assert client.post("/api/maker/maker/emergency_stop", json={"servers": ["B"]}).status_code == 422
    assert client.post("/api/maker/maker/emergency_stop", json={"servers": ["X"], "confirm": "STOP"}).status_code == 422
    out = client.post("/api/maker/maker/emergency_stop", json={"servers": ["B"], "confirm": "STOP"}).json()
    assert out["B"]["ok"] and makers["B"].calls == ["/emergency_stop"] and makers["C"].calls == []
    out = client.post("/api/maker/maker/reset", json={"servers": []}).json()
    assert out["B"]["ok"] and out["C"]["ok"] and makers["C"].calls == ["/reset"]
    assert "dash-maker-secret" not in json.dumps(view) + json.dumps(out)


@pytest.mark.browser
def test_maker_page_in_chromium(workspace, serve, makers, page):  # noqa: F811
    server = serve()
    page.goto(server.url + "/#/maker")
    expect(page.locator("#mk-phase")).to_contain_text("Phase 2 (B short, C long)")
    expect(page.locator("#nav a[href='#/maker']")).to_have_count(1)
    expect(page.locator("#mk-health-B")).to_have_text("active")
    expect(page.locator("#mk-exec-B")).to_contain_text("0.012 BTC")
    expect(page.locator("#mk-exec-C .mk-makers tbody tr")).to_have_count(1)
    expect(page.locator("#mk-stats tbody tr")).to_have_count(6)
    expect(page.locator("#mk-stats")).to_contain_text("95.3%")
    expect(page.locator("#mk-stats")).to_contain_text("-$13.7 (-2.29 bps)")
    expect(page.locator("#mk-params")).to_contain_text("maker_step_btc 0.002")
    shot(page, "maker_page")
    page.once("dialog", lambda d: d.accept())
    page.click("#mk-stop-both")
    expect(page.locator("#mk-msg")).to_contain_text("B: stopped · C: stopped")
    assert makers["B"].calls == ["/emergency_stop"] and makers["C"].calls == ["/emergency_stop"]
    expect(page.locator("#mk-health-C")).to_have_text("stopped")
    page.goto(server.url + "/#/maker/nope")                 # an instance that does not exist: said so
    expect(page.locator("#page")).to_contain_text("no maker instance 'nope'")
