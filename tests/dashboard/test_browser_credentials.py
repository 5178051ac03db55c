"""The account line in Debian's Chromium: live mode with an API wallet the venue does not know, Start
refused with the diagnosis, the header showing the profile and the failed check (issue 13 item 6).
The venue is a real paper exchange in the aster-v3 profile; bot and guard are sleeper scripts."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import SLEEPER
from tests.dashboard.test_browser import browser, open_page, page, shot  # noqa: F401 - fixtures
from tests.dashboard.test_credentials_gate import dashboard_log, live_v3, v3venue  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_start_refused_and_the_account_line(workspace, serve, page, v3venue, dashboard_log):  # noqa: F811
    live_v3(workspace, v3venue, v3venue.stranger)
    sleeper = workspace.script("sleeper", SLEEPER)
    server = serve(commands={"bot": sleeper + ("bot",), "guard": sleeper + ("guard",)}, exchange_factory=None)
    alerts: list[str] = []
    page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
    open_page(page, server)
    expect(page.locator("#mode-badge")).to_have_text("LIVE · real money")
    expect(page.locator("#account-profile")).to_have_text("aster-v3")
    expect(page.locator("#account-check")).to_contain_text("not checked yet")
    assert v3venue.stranger.address in page.locator("#account-line").get_attribute("title")

    page.click("#btn-start")
    page.click("#dialog-ok")                              # "Start LIVE trading?"
    expect(page.locator("#account-check")).to_have_attribute("data-state", "refused")
    expect(page.locator("#account-check")).to_contain_text("approved, unexpired API wallet")
    assert alerts and "approved, unexpired API wallet" in alerts[0]
    expect(page.locator("#state-bot")).to_have_attribute("data-state", "stopped")
    expect(page.locator("#state-guard")).to_have_attribute("data-state", "stopped")
    expect(page.locator("#activity-feed li[data-event='credentials.refused']")).to_contain_text("bot not started")
    shot(page, "credentials_refused", "header.top")

    expect(page.locator("#account-recheck")).to_be_visible()
    page.click("#account-recheck")
    expect(page.locator("#account-check")).to_have_attribute("data-state", "refused")
