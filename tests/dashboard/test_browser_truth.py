"""The issue 15 truth widgets in Debian's Chromium (Playwright), on the real paper exchange: positions as the
venue holds them with a Close behind a confirmation, the exit in the trades page with its reason, a row
opening the chart route, the real risk next to the slider matching the sizing API, and no sideways
overflow at 390 px."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from paper.testing import PaperExchange

from tests.bot.test_paper_e2e import run_bot
from tests.dashboard.browser import chromium, watched_page
from tests.dashboard.test_browser import shot
from tests.dashboard.test_venue_truth import trading_workspace

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("paper-browser-truth"), symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"),
                       seed=25) as ex:
        yield ex


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-truth")) as ctx:
        yield ctx


def test_close_a_position_from_the_widget_and_find_it_in_trades(px, workspace, serve, client_for, context):
    env = trading_workspace(px, workspace)
    with ThreadPoolExecutor(1) as pool:       # Playwright's sync API holds this thread's event loop
        pool.submit(lambda: asyncio.run(run_bot(env))).result(120)
    server = serve(exchange_factory=None, venue_ttl=0.5)
    api = client_for(server)
    with watched_page(context, timeout_ms=20_000) as page:
        page.goto(server.url + "/#/overview")
        rows = page.locator("table[data-widget=positions] tbody tr[data-symbol]")
        expect(rows).to_have_count(2)
        first = rows.first
        symbol, side = first.get_attribute("data-symbol"), first.get_attribute("data-side")
        expect(first).to_contain_text("x")                      # leverage column
        first.locator("button[data-close]").click()
        page.locator("button[data-confirm-close]").click()
        expect(page.locator("[data-role=close-status]")).to_contain_text(f"{symbol} {side} closed")
        expect(rows).to_have_count(1)
        page.goto(server.url + "/#/trades")
        expect(page.locator(f"table[data-widget=trades] tr:has-text('{symbol}')").first).to_contain_text(
            "manual_close", timeout=30_000)

        sizing = api.get("/api/sizing").json()
        m = next(b for b in sizing["buckets"] if b["bucket"] in ("M", "BASE"))
        page.goto(server.url + "/#/settings")
        expect(page.locator("[data-role=real-risk]")).to_contain_text(f"{m['risk_pct']:.3f} %")
        shot(page, "truth_widgets")

        page.goto(server.url + "/#/trades")
        page.locator(f"table[data-widget=trades] tr[data-trade]:has-text('{symbol}')").first.click()
        page.wait_for_function("location.hash.startsWith('#/chart/')")
        assert page.evaluate("location.hash").startswith(f"#/chart/{symbol}?interval=")

        page.set_viewport_size({"width": 390, "height": 844})
        for route in ("#/overview", "#/trades", "#/settings"):
            page.goto(server.url + "/" + route)
            expect(page.locator("main#page[data-ready='1']")).to_have_count(1)
            overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{route}: the widgets scroll inside their tables, not the page"
