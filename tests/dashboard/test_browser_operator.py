"""The Operator page in Debian's Chromium: both legs with their liquidation distances and the net delta,
hold time and next rotation, volume against target, trade history, CSV export, pause and close-pair; it
fits a phone's width with every control reachable."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import wait_for
from tests.dashboard.fakes import InMemoryVenue
from tests.dashboard.test_browser import browser, open_page, page, shot  # noqa: F401 - fixtures
from tests.dashboard.test_browser_pages import UNREACHABLE
from tests.deltaneutral.harness import LoopThread, PaperExchange, close_clients, make_operator, positions

pytestmark = pytest.mark.browser


def test_operator_page(workspace, serve, page, tmp_path):  # noqa: F811
    with PaperExchange(tmp_path / "px", symbols=("BTCUSDT",), seed=3) as px:
        workspace.write_config({"ASTER_PAPER": True, "ASTER_PAPER_FEED": "synthetic",
                                "ASTER_JOURNAL_FILE": "journal.sqlite"})
        op = make_operator(px, workspace.root)
        loop = LoopThread()

        async def open_pair():
            await op.setup()
            await op.adopt(await op.now_ms())
            await op.tick()
            op.write_status(op.long.exchange.now_ms())
        try:
            loop.run(open_pair())
            server = serve(exchange_factory=lambda s: InMemoryVenue())
            open_page(page, server)
            page.click("nav a[data-page='operator']")
            expect(page.locator("main#page[data-page='operator'][data-ready='1']")).to_have_count(1)
            legs = page.locator(".op-legs tbody tr")
            expect(legs).to_have_count(2)
            expect(page.locator("tr[data-leg='LONG'] [data-field='liq-distance']")).to_contain_text("%")
            expect(page.locator("[data-field='net-delta']")).to_contain_text("Net delta 0")
            expect(page.locator("[data-field='next-rotation']")).to_contain_text("Next rotation")
            expect(page.locator("[data-field='funding-next']")).to_contain_text("Next funding")
            expect(page.locator("#op-volume")).to_contain_text("of 15,000.00 USDT")
            expect(page.locator("#op-warnings")).to_contain_text("6.7 %")
            expect(page.locator("#op-trades tbody tr")).to_have_count(2)
            href = page.locator("#op-export").get_attribute("href")
            assert page.request.get(server.url + href).text().count("\n") == 3
            shot(page, "operator")

            page.set_viewport_size({"width": 390, "height": 844})
            overflow = page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
            assert overflow[0] <= overflow[1], f"the page is {overflow[0]} px wide in {overflow[1]} px"
            reach = page.evaluate(UNREACHABLE)
            assert reach["count"] > 5 and not reach["bad"], reach["bad"][:5]
            shot(page, "operator_390")
            page.set_viewport_size({"width": 1400, "height": 1000})

            page.click("#op-pause")
            expect(page.locator("#op-pause")).to_have_text("Resume")
            assert json.loads((workspace.run_dir / "dn1.control.json").read_text())["paused"] is True
            page.click("#op-close-pair")
            page.click("#dialog-ok")
            wait_for(lambda: json.loads((workspace.run_dir / "dn1.control.json").read_text()).get("close_ms"),
                     what="the close request in the control file")
            expect(page.locator("#op-head small")).to_contain_text("paused")

            async def check():
                await op.tick()
                op.write_status(op.long.exchange.now_ms())
            loop.run(check())
            assert positions(px) == {}
            expect(page.locator(".op-pair")).to_contain_text("none held")
            page.click("nav a[data-page='overview']")
            expect(page.locator("main#page[data-page='overview'][data-ready='1']")).to_have_count(1)
            expect(page.locator(".op-page")).to_have_count(0)
        finally:
            loop.run(close_clients(op))
            loop.close()
