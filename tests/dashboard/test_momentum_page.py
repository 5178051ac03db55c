"""The momentum engine's page data (GET /api/momentum/<instance>/status) and the page itself in Debian's
Chromium on #/engine/<instance>: per symbol the signal against its threshold, volume ratio, blockers,
warm-up, position with armed exits and trailing state, cooldown; the daily schedule."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.dashboard.fakes import InMemoryVenue
from tests.dashboard.test_browser import browser, open_page, page, shot  # noqa: F401 - fixtures
from tests.momentum.fakes import write_status


def test_status_api_reads_the_engines_file(workspace, serve, client_for):
    api = client_for(serve())
    assert api.get("/api/momentum/mom1/status").status_code == 404             # not running yet
    assert api.get("/api/momentum/Bad..Name/status").status_code == 400
    write_status(workspace.run_dir, "mom1", bars=40)
    data = api.get("/api/momentum/mom1/status").json()
    assert data["instance"] == "mom1" and data["trading"] is False and data["stale"] is False
    eth = data["symbols"]["ETHUSDT"]
    assert eth["bars"] == 40 and eth["warmup_bars"] == 31 and eth["warmup_pct"] == 100.0
    sig = eth["signal"]
    assert sig["threshold_bps"] == pytest.approx(2.0 * sig["rs_vol_bps"]) and sig["volume_ratio"] > 0
    assert set(sig["blockers"]) >= {"spread_ok", "funding_ok", "opening_loss_ok", "opening_loss_cap_bps"}
    assert eth["position"]["trailing"]["state"].startswith("armed") and eth["position"]["exits"]["SL"]
    assert data["symbols"]["BTCUSDT"]["cooldown_s"] > 0
    assert data["schedule"]["entry_halt_utc"] == "23:00" and data["schedule"]["force_exit_utc"] == "23:50"


@pytest.mark.browser
def test_momentum_page_in_the_browser(workspace, serve, page):  # noqa: F811
    from mraster.engines import EngineInstance, save_instances
    save_instances(workspace.root / "engines.json", [EngineInstance("scanner", "scanner"),
                                                     EngineInstance("mom1", "momentum")])
    write_status(workspace.run_dir, "mom1", bars=12)                             # still warming up (12/31)
    server = serve(exchange_factory=lambda s: InMemoryVenue())
    open_page(page, server, "#/engine/mom1")                                     # the engine route, kind momentum
    table = page.locator("#momentum-table")
    expect(table).to_be_visible()
    eth = table.locator("tr[data-symbol=ETHUSDT]")
    expect(eth.locator("td.warmup")).to_contain_text("12/31")
    expect(eth.locator("td.position")).to_contain_text("LONG 0.100 @ 100.00")
    expect(eth.locator("td.position")).to_contain_text("armed (waiting for activation)")
    expect(table.locator("tr[data-symbol=BTCUSDT] td.cooldown")).to_contain_text(" s")
    expect(page.locator("main#page")).to_contain_text("force-exit 23:50 UTC")
    write_status(workspace.run_dir, "mom1", bars=40)                             # the page follows the file
    expect(eth.locator("td.warmup")).to_contain_text("ready")
    expect(eth.locator("td.signal")).to_contain_text(" vs ±")
    shot(page, "momentum_page", "main#page")
    page.goto(server.url + "/#/engine/scanner")                                  # the scanner keeps its own page
    expect(page.locator("#scan-table")).to_have_count(1)
    expect(page.locator("#momentum-table")).to_have_count(0)
