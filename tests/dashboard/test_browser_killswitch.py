"""The kill-switch banner in Debian's Chromium: shown while the latch holds, gone after a person's
confirmed reset through its button (issue 12 item 9)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from mraster.safety.killswitch import account_key, fire, latch_path, read_latch

from tests.dashboard.fakes import InMemoryVenue
from tests.dashboard.test_browser import browser, open_page, page, shot  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_latched_banner_and_reset_button(workspace, serve, page):  # noqa: F811
    settings = workspace.loader()().settings.with_values(run_dir=str(workspace.run_dir))
    path = latch_path(settings)
    fire(path, account_key(settings), "guard", "BTCUSDT LONG (ISOLATED): margin 1.18 x its maintenance margin")
    server = serve(exchange_factory=lambda s: InMemoryVenue())
    open_page(page, server)
    banner = page.locator("#killswitch-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("ISOLATED")
    shot(page, "killswitch_latched", "#killswitch-banner")
    page.click("#killswitch-reset")
    page.click("#dialog-ok")
    expect(banner).to_be_hidden()
    latch = read_latch(path)
    assert not latch.latched and latch.reset_by.startswith("dashboard:")
