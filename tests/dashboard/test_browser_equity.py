"""The Overview's equity card in Debian's Chromium (issue 15): the curve of the chosen account (its sampled venue
equity, with drawdown in %) or engine instance (its cumulative net PnL, drawdown in USDT), a selector that
switches between them and is remembered, at 1400x900 and 390x844 without horizontal overflow.

The equity file holds two weeks of samples of two accounts before the dashboard starts (as a running
dashboard leaves it); the in-memory venue answers each account's totals with its last value, so the
sampler's own samples continue the curves. With MRASTER_UPDATE_SCREENSHOTS=1 the Overview screenshots go to
docs/screenshots/ (how the committed ones were made), else to tests/artifacts/."""
from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from dashboard.app import create_app
from dashboard.services.equity import EquityStore
from mraster.journal import Journal
from mraster.settings import load_settings
from mraster.state.model import Trade

from tests.dashboard.conftest import SLEEPER, ServerThread
from tests.dashboard.fakes import build_state, guard_status, position, write_state
from tests.dashboard.browser import chromium, watched_page
from tests.dashboard.test_browser_pages import Venue

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots" if os.environ.get("MRASTER_UPDATE_SCREENSHOTS") else ROOT / "tests" / "artifacts"
SIZES = [(1400, 900), (390, 844)]
HOUR = 3_600_000


def curve(start: float, dip: float, now_ms: int) -> list[tuple[int, float]]:
    """Two weeks of hourly equity: a rise, a fall of `dip` (a fraction) on day 6, and a recovery."""
    out, v = [], start
    for i in range(14 * 24):
        v *= 1.0006 if not 6 * 24 <= i < 7 * 24 else (1 - dip) ** (1 / 24)
        out.append((now_ms - (14 * 24 - i) * HOUR, round(v, 2)))
    return out


class AccountVenue(Venue):
    """The pages' in-memory venue, answering the account's totals with a fixed wallet balance."""

    def __init__(self, wallet: float, **kw):
        super().__init__(**kw)
        self.wallet = Decimal(str(wallet))

    async def account(self):
        return SimpleNamespace(total_wallet_balance=self.wallet, total_margin_balance=self.wallet,
                               available_balance=self.wallet, total_unrealized_profit=Decimal(0))


def closed(tid: str, exit_ms: int, pnl: str) -> Trade:
    return Trade(tid, "ETHUSDT", "LONG", status="closed", qty=Decimal(0), entry_qty=Decimal("0.1"),
                 entry_price=Decimal(3000), entry_time_ms=exit_ms - HOUR, exit_price=Decimal(3010),
                 exit_time_ms=exit_ms, exit_reason="take_profit", realized_pnl=Decimal(pnl), fees=Decimal("0.2"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("equity-pages")
    env = {"ASTER_CONFIG_FILE": str(root / "dashboard_config.json"), "ASTER_DOTENV_FILE": str(root / ".env")}
    (root / "dashboard_config.json").write_text(json.dumps({"ASTER_PAPER": True, "ASTER_PAPER_FEED": "synthetic"}))
    (root / ".env").write_text("ASTER_ACCOUNTS=B\n")
    (root / ".env").chmod(0o600)
    write_state(root / "aster_state.json", replace(build_state(), equity_curve=[]))   # only the sampled curve
    (root / "run").mkdir()
    (root / "run" / "guard_status.json").write_text(json.dumps(guard_status()))
    now = int(time.time() * 1000)
    curves = {"main": curve(10_000.0, 0.06, now), "B": curve(2_000.0, 0.15, now)}
    store = EquityStore(root / "run" / "equity.sqlite")
    for account, points in curves.items():
        store.add_many(account, points)
    store.close()
    journal = Journal(root / "aster_journal.sqlite", account="B", instance="mom1")
    for i, pnl in enumerate(["12", "-30", "8", "15", "-5", "22"]):
        journal.upsert_trade(closed(f"mom1-ETHUSDT-{i}", now - (12 - 2 * i) * 24 * HOUR, pnl))
    journal.close()
    venues = {"main": AccountVenue(curves["main"][-1][1], positions=[replace(
        position("ADAUSDT", "400", "0.307"), liquidation_price=Decimal("0.2101"), leverage=3)]),
        "B": AccountVenue(curves["B"][-1][1])}
    sleeper = root / "sleeper.py"
    sleeper.write_text(textwrap.dedent(SLEEPER))
    commands = {name: (sys.executable, str(sleeper), name) for name in ("bot", "guard")}
    app = create_app(loader=lambda: load_settings(env=env, cwd=root), commands=commands, equity_interval=3600,
                     exchange_factory=lambda s: venues["B" if s.api_key == "paper-b" else "main"])
    server = ServerThread(app).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-equity")) as ctx:
        yield ctx


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_overview_equity_switches_between_accounts_and_engines(site, context, size):
    width, height = size
    with watched_page(context) as page:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(site.url + "/")
        page.evaluate("() => localStorage.removeItem('mraster.equity')")
        page.goto(site.url + "/#/overview")
        expect(page.locator("main#page[data-page='overview'][data-ready='1']")).to_have_count(1)
        chart = page.locator("#equity-root .equity-chart")
        note = page.locator("#equity-root [data-role=equity-note]")
        expect(chart).to_have_attribute("data-series", "account:main")
        expect(page.locator("#equity-select")).to_have_value("account:main")
        expect(note).to_contain_text("max drawdown -6.")
        assert int(chart.get_attribute("data-points")) > 300, "two weeks of samples and the live one"
        expect(chart.locator("canvas").first).to_be_visible()
        main_last = chart.get_attribute("data-last")
        values = page.eval_on_selector_all("#equity-select option", "os => os.map((o) => o.value)")
        assert values[:2] == ["account:main", "account:B"] and {"engine:scanner", "engine:mom1"} <= set(values)

        page.select_option("#equity-select", "account:B")
        expect(chart).to_have_attribute("data-series", "account:B")
        expect(note).to_contain_text("max drawdown -15.")
        assert chart.get_attribute("data-last") != main_last

        page.select_option("#equity-select", "engine:mom1")
        expect(chart).to_have_attribute("data-series", "engine:mom1")
        expect(note).to_contain_text("6 trade(s)")
        expect(note).to_contain_text("max drawdown -30.20 USDT")       # +11.8, then -30.2
        expect(chart).to_have_attribute("data-points", "7")
        assert float(chart.get_attribute("data-last")) == pytest.approx(12 - 30 + 8 + 15 - 5 + 22 - 6 * 0.2)
        page.reload()
        expect(page.locator("#equity-select")).to_have_value("engine:mom1")
        expect(chart).to_have_attribute("data-series", "engine:mom1")

        overflow = page.evaluate("() => document.scrollingElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"the overview is {overflow} px wider than the {width} px window"
        page.select_option("#equity-select", "account:main")
        expect(chart).to_have_attribute("data-series", "account:main")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"overview-{width}.png"), full_page=True)
