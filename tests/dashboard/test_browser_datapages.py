"""The Data and Backtest pages in Debian's Chromium (Playwright), at 1400x900 and 390x844: no horizontal
overflow; the Data page shows the recorder's own figures (its status file and files on disk), loads a day
into the store and shows its coverage and a query; it lists two recorder instances with their figures,
starts and stops one, adds a third (a shared symbol refused with the reason) and shows a chosen one's details; a backtest started from the page finishes and shows
its ranked table, equity and trades; Apply writes run/momentum_params.json atomically, and a corrupt file
is kept aside and reported. Screenshots (data-*.png, backtest-*.png) go to tests/artifacts/, or to
docs/screenshots/ with MRASTER_UPDATE_SCREENSHOTS=1 (how the committed ones were made)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mraster.engines import EngineInstance, save_instances
from tests.dashboard.browser import VIEWPORTS, chromium, watched_page
from tests.dashboard.conftest import SLEEPER
from tests.dashboard.datapages_helpers import GRID, SYMBOLS, record_days, record_instance

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots" if os.environ.get("MRASTER_UPDATE_SCREENSHOTS") else ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as ctx:
        yield ctx


@pytest.fixture
def page(browser):
    with watched_page(browser, timeout_ms=20_000, accept_dialogs=True) as page:   # Apply asks to confirm
        yield page


def no_horizontal_overflow(page: Page) -> None:
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert sizes[0] <= sizes[1], f"the page is wider than the window: {sizes}"


@pytest.mark.parametrize("view", list(VIEWPORTS))
def test_data_page_shows_the_recorders_figures_and_the_store(workspace, serve, page, view):
    status = record_days(workspace.log_dir)
    server = serve()
    page.set_viewport_size(VIEWPORTS[view])
    page.goto(server.url + "/#/data")
    expect(page.locator("#dp-proc-state")).to_have_text("stopped")
    expect(page.locator("#dp-rec-state")).to_have_text("running")
    expect(page.locator("#dp-gaps-today")).to_have_text(str(status["gaps_today"]))
    for family, f in status["files"].items():
        expect(page.locator(f"#dp-files-table tr[data-family='{family}'] .dp-rows")).to_have_text(
            f"{f['rows_today']:,}")
    expect(page.locator("#dp-stale-table tbody tr")).to_have_count(len(SYMBOLS))
    expect(page.locator("#dp-gaps-table tbody")).to_contain_text("reconnect")
    expect(page.locator("#dp-days-table tbody tr")).to_have_count(2)
    expect(page.locator("#dp-coverage")).to_contain_text("the store is empty")

    page.click("#dp-days-table button[data-day='20260301']")
    expect(page.locator("#dp-days-msg")).to_have_text("20260301 loaded", timeout=60_000)
    expect(page.locator("#dp-calendar .dp-cell")).to_have_count(len(SYMBOLS), timeout=60_000)  # a child process
    expect(page.locator("#dp-calendar .dp-cell[data-symbol='BTCUSDT'][data-date='2026-03-01']")).to_be_visible()
    # rows per day: 20 seconds x 3 symbols in each of the five tables
    expect(page.locator("#dp-days-table tr[data-day='20260301'] .dp-day-rows")).to_have_text(f"{5 * 20 * len(SYMBOLS)}")
    expect(page.locator("#dp-days-table tr[data-day='20260228'] .dp-day-rows")).to_have_text("–")
    page.fill("#dp-sql", "select symbol, count(*) as n from book_ticker group by 1 order by 1")
    page.click("#dp-run")
    expect(page.locator("#dp-query-table tbody tr")).to_have_count(len(SYMBOLS), timeout=60_000)
    expect(page.locator("#dp-query-table tbody tr").first).to_contain_text("20")
    page.fill("#dp-sql", "drop view kline")
    page.click("#dp-run")
    expect(page.locator("#dp-query-msg")).to_contain_text("only SELECT", timeout=60_000)
    page.fill("#dp-sql", "select symbol, count(*) as n from book_ticker group by 1 order by 1")
    page.click("#dp-run")
    expect(page.locator("#dp-query-table tbody tr")).to_have_count(len(SYMBOLS), timeout=60_000)
    no_horizontal_overflow(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"data-{view}.png"), full_page=True)


@pytest.mark.parametrize("view", list(VIEWPORTS))
def test_data_page_lists_recorder_instances_starts_stops_and_adds_one(workspace, serve, page, view):
    workspace.run_dir.mkdir(parents=True, exist_ok=True)
    save_instances(workspace.root / "engines.json", [
        EngineInstance("scanner", "scanner"),
        EngineInstance("rec1", "recorder", (), (("SYMBOLS", ("BTCUSDT", "ETHUSDT")),)),
        EngineInstance("rec2", "recorder", (), (("SYMBOLS", ("SOLUSDT",)),))])
    s1 = record_instance(workspace.log_dir, workspace.run_dir, "rec1", ["BTCUSDT", "ETHUSDT"], seconds=6)
    s2 = record_instance(workspace.log_dir, workspace.run_dir, "rec2", ["SOLUSDT"], seconds=4)
    # rec1's process is a stand-in child (what is tested is the page over the engine service)
    server = serve(commands={"rec1": workspace.script("sleeper", SLEEPER) + ("rec1",)}, stop_timeout=5)
    page.set_viewport_size(VIEWPORTS[view])
    page.goto(server.url + "/#/data")
    cards = page.locator("#dp-recorders .dp-rec")
    expect(cards).to_have_count(2)                      # two instances; the classic recorder was never used here
    for name, status in (("rec1", s1), ("rec2", s2)):
        card = page.locator(f".dp-rec[data-recorder='{name}']")
        expect(card.locator(".dp-proc-state")).to_have_text("stopped")
        expect(card.locator(".dp-rec-state")).to_have_text("running")
        rows = sum(f["rows_today"] for f in status["files"].values())
        expect(card.locator(".dp-rows-today")).to_have_text(f"{rows:,}")
        expect(card.locator(".dp-gaps-today")).to_have_text(str(status["gaps_today"]))
        expect(card.locator(".dp-rec-streams tr[data-stream]")).to_have_count(5)
        expect(card).to_contain_text(f"recorders/{name}")
    expect(page.locator(".dp-rec[data-recorder='rec1'] .dp-symbols")).to_have_text("BTCUSDT, ETHUSDT")

    rec1 = page.locator(".dp-rec[data-recorder='rec1']")
    rec1.locator("button[data-action='start']").click()
    expect(rec1.locator(".dp-proc-state")).to_have_text("running")
    expect(rec1.locator(".dp-pid")).to_contain_text("pid ")
    expect(rec1.locator("button[data-action='stop']")).to_be_enabled()
    rec1.locator("button[data-action='stop']").click()
    expect(rec1.locator(".dp-proc-state")).to_have_text("stopped")

    page.fill("#dp-add-name", "rec3")
    page.fill("#dp-add-symbols", "ETHUSDT")
    page.click("#dp-add-btn")
    expect(page.locator("#dp-add-msg")).to_contain_text("ETHUSDT is already taken by recorder instance rec1")
    page.fill("#dp-add-symbols", "ADAUSDT")
    page.click("#dp-add-btn")
    expect(page.locator("#dp-add-msg")).to_contain_text("added rec3")
    expect(cards).to_have_count(3)
    expect(page.locator(".dp-rec[data-recorder='rec3'] .dp-rec-state")).to_have_text("no status file yet")

    page.locator(".dp-rec[data-recorder='rec2'] button[data-action='details']").click()
    expect(page.locator("#dp-recorder .dp-selected-name")).to_have_text("rec2")
    expect(page.locator("#dp-stale-table tbody tr[data-symbol]")).to_have_count(1)
    expect(page.locator("#dp-stale-table tbody tr[data-symbol='SOLUSDT']")).to_be_visible()
    expect(page.locator("#dp-days-table tbody tr")).to_have_count(1)       # both instances wrote one day
    no_horizontal_overflow(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"data-recorders-{view}.png"), full_page=True)


@pytest.mark.parametrize("view", list(VIEWPORTS))
def test_backtest_from_the_page_to_results_and_apply(workspace, serve, page, view):
    server = serve()
    page.set_viewport_size(VIEWPORTS[view])
    page.goto(server.url + "/#/backtest")
    expect(page.locator("#bt-source option")).not_to_have_count(0)
    expect(page.locator("#bt-symbols input")).to_have_count(3)          # the shipped binance-um-2026-02 data
    for box in page.locator("#bt-symbols input").all():
        box.uncheck()
    page.check("#bt-symbols input[value='LINKUSDT']")
    page.fill("#bt-start", "2026-02-01")
    page.fill("#bt-end", "2026-02-02")
    bad = {"settings": {"train_frac": 0.7}, "default_grid": {k: v for k, v in GRID.items() if k != "sl_bps"}}
    page.fill("#bt-grid", json.dumps(bad))
    page.click("#bt-check")
    expect(page.locator("#bt-check-msg")).to_contain_text("missing required key 'sl_bps'", timeout=90_000)
    page.fill("#bt-grid", json.dumps({"settings": {"train_frac": 0.7}, "default_grid": GRID}))
    page.click("#bt-check")
    expect(page.locator("#bt-check-msg")).to_contain_text("8 configuration(s)", timeout=90_000)
    page.click("#bt-run")
    expect(page.locator("#bt-jobs-table tbody tr[data-state='done']")).to_have_count(1, timeout=180_000)
    expect(page.locator("#bt-results-table tbody tr")).to_have_count(8, timeout=30_000)
    expect(page.locator("#bt-summary")).to_contain_text("8 configuration(s) ranked")
    expect(page.locator("#bt-equity canvas").first).to_be_visible()
    expect(page.locator("#bt-trades-table tbody tr").first).to_be_visible()
    # compare: a second configuration's equity on the same chart
    page.locator("#bt-results-table input[data-compare]:not(:checked):not(:disabled)").first.check()
    legend = page.locator("#bt-equity .uplot").first.locator(".u-legend .u-series")
    expect(legend).to_have_count(3)                                             # x + two configurations

    first = page.locator("#bt-results-table tbody tr").first
    cid = int(first.get_attribute("data-config"))
    params_file = workspace.run_dir / "momentum_params.json"
    params_file.write_text("{\"symbols\": [1, 2]")                               # corrupt
    first.locator("button[data-apply]").click()
    expect(page.locator("#bt-apply-msg")).to_contain_text("kept aside", timeout=30_000)
    expect(page.locator("#bt-params-problem")).to_contain_text("kept aside")
    doc = json.loads(params_file.read_text())
    assert doc["applied"]["LINKUSDT"]["config_id"] == cid and set(doc["symbols"]["LINKUSDT"]) == set(GRID)
    aside = list(workspace.run_dir.glob("momentum_params.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{\"symbols\": [1, 2]"
    first.locator("button[data-apply]").click()                                 # again: the file is good now
    expect(page.locator("#bt-apply-msg")).to_have_class("msg ok")
    expect(page.locator("#bt-params-table tbody tr")).to_have_count(1)
    assert len(list(workspace.run_dir.glob("momentum_params.json.corrupt-*"))) == 1
    no_horizontal_overflow(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"backtest-{view}.png"), full_page=True)
