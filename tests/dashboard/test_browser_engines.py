"""Engines and accounts in Debian's Chromium (Playwright): two scanner instances on two named paper
accounts are listed with their state and controls, one is started from the page, a third is added
from the page, and each account shows its own balance and orders with the owning instance.

Real parts: a paper exchange child with two accounts, the dashboard on 127.0.0.1, child scripts as
the instances (what is tested is the page and the supervision, not the scanner)."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from mraster.accounts import load_accounts, settings_for_account
from mraster.domain.types import OrderRequest, OrderType, Side, TimeInForce
from mraster.engines import EngineInstance, save_instances
from mraster.exchange.factory import make_exchange
from paper.testing import PaperExchange

from tests.dashboard.conftest import SLEEPER
from tests.dashboard.test_browser import ARTIFACTS, browser, page  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


async def _order_on(settings, cid: str) -> None:
    ex = make_exchange(settings)
    try:
        await ex.sync_time()
        rules = (await ex.symbol_rules())["BTCUSDT"]
        price = Decimal(str((await ex.book_ticker("BTCUSDT")).bid_price)) * Decimal("0.8")
        await ex.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, cid,
                                          quantity=rules.round_qty(Decimal("0.01")), price=rules.round_price(price),
                                          time_in_force=TimeInForce.GTC))
    finally:
        await ex.close()


@pytest.mark.parametrize("viewport", [(1400, 900), (390, 844)])
def test_both_instances_and_both_accounts_on_the_page(workspace, serve, page, tmp_path_factory,  # noqa: F811
                                                      viewport):
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    with PaperExchange(tmp_path_factory.mktemp("pxb"), symbols=("BTCUSDT",), seed=5) as px:
        workspace.write_config({"ASTER_PAPER": True, "ASTER_PAPER_URL": px.url})
        workspace.dotenv_file.write_text("ASTER_ACCOUNTS=B\n")
        workspace.dotenv_file.chmod(0o600)
        save_instances(workspace.root / "engines.json", [
            EngineInstance("scanner", "scanner"),
            EngineInstance("scan2", "scanner", (("account", "B"),), (("ASTER_LEVERAGE", 3),))])
        settings = workspace.loader()().settings
        b_settings = settings_for_account(settings, load_accounts({"ASTER_ACCOUNTS": "B"})["B"])
        with ThreadPoolExecutor(1) as pool:          # Playwright's sync API holds this thread's event loop
            pool.submit(asyncio.run, _order_on(b_settings, "scan2:BTC.EN.1")).result(30)
        sleeper = workspace.script("sleeper", SLEEPER)
        children = {"bot": sleeper + ("bot",), "guard": sleeper + ("guard",), "paper": sleeper + ("paper",),
                    "scan2": sleeper + ("scan2",), "scan3": sleeper + ("scan3",), "guard-B": sleeper + ("guard-B",)}
        server = serve(commands=children, exchange_factory=None, stop_timeout=5)
        page.goto(server.url + "/#/overview")

        rows = page.locator(".engines-table tbody tr")
        expect(rows).to_have_count(2)
        scan2 = page.locator("tr[data-instance='scan2']")
        expect(scan2).to_contain_text("B")
        expect(scan2.locator(".pill")).to_have_text("stopped")
        expect(scan2.locator("button[data-action='stop']")).to_be_disabled()
        scan2.locator("button[data-action='start']").click()
        expect(scan2.locator(".pill")).to_have_text("running")
        expect(scan2.locator("button[data-action='start']")).to_be_disabled()
        expect(page.locator("tr[data-instance='scanner'] .pill")).to_have_text("stopped")

        b = page.locator(".account-card[data-account='B']")
        expect(b.locator("[data-guard='B']")).to_have_text("running")   # started with scan2
        expect(b).to_contain_text("USDT wallet 10,000")
        expect(b.locator("tbody").last).to_contain_text("scan2")
        expect(page.locator(".account-card[data-account='main']")).to_contain_text("no open order")

        page.fill("input[name='name']", "scan3")
        page.select_option("select[name='account-account']", "B")
        page.click("text=Add instance")
        expect(rows).to_have_count(3)
        expect(page.locator("tr[data-instance='scan3']")).to_contain_text("B")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"engines_{viewport[0]}.png"), full_page=True)
        overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"horizontal overflow {overflow}px at {viewport}"
        scan2.locator("button[data-action='stop']").click()
        expect(scan2.locator(".pill")).to_have_text("stopped")


def test_a_second_scanners_page_shows_its_own_scan_not_the_default_ones(workspace, serve, page):  # noqa: F811
    """#/engine/scan2 reads scan2's state file (aster_state.scan2.json), not the default scanner's."""
    from tests.dashboard.fakes import write_state
    workspace.dotenv_file.write_text("ASTER_ACCOUNTS=B\n")
    workspace.dotenv_file.chmod(0o600)
    save_instances(workspace.root / "engines.json", [
        EngineInstance("scanner", "scanner"), EngineInstance("scan2", "scanner", (("account", "B"),))])
    write_state(workspace.root / "aster_state.json")
    server = serve(commands={})
    import httpx
    own = httpx.get(server.url + "/api/engines/scan2/state").json()
    assert own["state_file"] == "aster_state.scan2.json" and own["state"]["available"] is False
    assert httpx.get(server.url + "/api/engines/scanner/state").json()["state"]["available"] is True
    page.goto(server.url + "/#/engine/scan2")
    expect(page.locator("#scan-summary")).to_contain_text("state")        # its own file: not written yet
    expect(page.locator("#scan-table tbody")).to_contain_text("no scan yet")
