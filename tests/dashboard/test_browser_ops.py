"""The Ops page (#/ops) in Debian's Chromium at desktop (1400x900) and phone (390x844) sizes: the
schedule's jobs with next run and last result, Run now, the job's log, the report links, no
horizontal overflow on the phone, and back to the control center."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from mraster.journal.journal import Journal
from tests.dashboard.test_browser import browser, page, shot  # noqa: F401 - fixtures
from tests.dashboard.test_ops_scheduler import Clock
from tests.ops.test_reports import closed, ms

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("size", [(1400, 900), (390, 844)], ids=["desktop", "phone"])
def test_ops_page_runs_a_job_and_shows_its_log(workspace, serve, page, monkeypatch, size):  # noqa: F811
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    j = Journal(workspace.root / "aster_journal.sqlite")
    j.upsert_trade(closed("t1", "BTCUSDT", ms(3), "5", "0.1"))
    j.close()
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    server = serve(ops_clock=Clock("2026-12-05 12:00:00"))
    page.goto(server.url + "/#/overview")
    page.locator("#nav a[href='#/ops']").click()
    expect(page).to_have_url(server.url + "/#/ops")
    expect(page.locator("main#page[data-page='ops']")).to_have_count(1)
    jobs = page.locator(".ops-job")
    expect(jobs).to_have_count(4)
    expect(page.locator("#ops-switch")).to_have_text("schedule OFF")
    expect(page.locator("#ops-notifier")).to_have_text("Notifications: off (ASTER_NOTIFY_EVENTS=none)")
    report = page.locator('.ops-job[data-job="daily-report"]')
    expect(report).to_contain_text("daily 00:35 UTC")
    expect(report.locator(".ops-last")).to_contain_text("never run")
    report.locator("button[data-job='daily-report']").click()
    expect(report.locator(".ops-last")).to_contain_text("ok", timeout=60_000)
    expect(page.locator("#ops-log")).to_contain_text("not sent: ASTER_EMAIL_PROD_ENABLE is off", timeout=30_000)
    expect(page.locator("#ops-log-title")).to_have_text("Log of daily-report")
    assert page.locator("#ops-report-prod").get_attribute("href") == "/api/ops/report/prod"
    page.once("dialog", lambda dialog: dialog.dismiss())         # the batch stops the bot: asked first
    page.locator("button[data-job='daily-batch']").click()
    expect(page.locator("#ops-flash")).to_have_text("daily-report started")
    expect(page.locator('.ops-job[data-job="daily-batch"] .ops-last')).to_contain_text("never run")
    overflow = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth, "
                             "Math.max(...[...document.querySelectorAll('.ops-job')].map(e => e.getBoundingClientRect().right))]")
    assert overflow[0] <= overflow[1] and overflow[2] <= width, overflow
    shot(page, f"ops_{width}x{height}")
    page.evaluate("() => { location.hash = '#/overview'; }")
    expect(page.locator("main#page[data-page='overview']")).to_have_count(1)
    expect(jobs).to_have_count(0)                                 # unmounted
