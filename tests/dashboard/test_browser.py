"""The pages in Debian's Chromium, driven by Playwright: the overview, presets with their diff, the
settings editor with inline validation, the logs page, login, and (with the real bot, guard and paper
exchange) fills arriving live. Screenshots of the main views go to tests/artifacts/."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect


from tests.dashboard.browser import chromium, watched_page
from tests.dashboard.fakes import guard_status, held_as_in_state, write_state

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
TOKEN = "browser-token-5d1c9e"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile"), {"width": 1400, "height": 1000}) as ctx:
        yield ctx


@pytest.fixture
def page(browser):
    with watched_page(browser) as page:
        yield page


def shot(page: Page, name: str, part: str = "") -> None:
    """A screenshot of the whole page, or of one part of it (`part`: a CSS selector)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = str(ARTIFACTS / f"dashboard_{name}.png")
    if part:
        page.locator(part).screenshot(path=path)
    else:
        page.screenshot(path=path, full_page=True)


def open_page(page: Page, server, route: str = "#/overview") -> None:
    """Open a page (a hash route) and wait until it has drawn its first data over a live connection."""
    page.goto(server.url + "/" + route)
    page_id = route.lstrip("#/").split("/")[0].split("?")[0]
    expect(page.locator(f"main#page[data-page='{page_id}'][data-ready='1']")).to_have_count(1)
    expect(page.locator("#conn")).to_have_text("connected")


def test_overview_and_presets_with_diff(workspace, serve, page):
    write_state(workspace.root / "aster_state.json")
    workspace.run_dir.mkdir(parents=True, exist_ok=True)
    (workspace.run_dir / "guard_status.json").write_text(json.dumps(guard_status()))
    server = serve(exchange_factory=lambda s: held_as_in_state())
    open_page(page, server)
    expect(page.locator("#mode-badge")).to_have_text("PAPER · simulated")
    expect(page.locator("#positions-card tr[data-symbol]")).to_have_count(1)
    expect(page.locator("#positions-card tbody")).to_contain_text("protected")
    expect(page.locator("#equity-card canvas")).to_have_count(1)
    shot(page, "overview")
    open_page(page, server, "#/trades")
    expect(page.locator("#page tr[data-trade]")).to_have_count(2)
    open_page(page, server, "#/chart/ADAUSDT?interval=1m")
    expect(page.locator("#price-chart[data-ready='1'] canvas").first).to_be_visible()

    open_page(page, server, "#/settings")
    expect(page.locator("#preset-active")).to_have_text("(mid in effect)")
    page.click("button[data-preset='high']")
    dialog = page.locator("#dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#preset-diff")).to_contain_text("ASTER_LEVERAGE")
    expect(page.locator("#preset-diff")).to_contain_text("ASTER_MAX_OPEN_GLOBAL")
    shot(page, "preset_diff")
    assert "ASTER_LEVERAGE" not in workspace.config_file.read_text(), "nothing written before Apply"
    page.click("#dialog-ok")
    expect(page.locator("#preset-active")).to_have_text("(high in effect)")
    saved = json.loads(workspace.config_file.read_text())
    assert saved["ASTER_LEVERAGE"] == 5 and saved["ASTER_RISK_PER_TRADE"] == 0.012
    expect(page.locator("#lev-value")).to_have_text("5x")
    expect(page.locator("#cfg-ASTER_LEVERAGE")).to_have_value("5")

    # sliders: risk 2 % and leverage 2x
    page.locator("#risk-slider").fill("2")
    page.locator("#lev-slider").fill("2")
    page.click("#sliders-save")
    expect(page.locator("#sliders-msg")).to_have_text("saved")
    saved = json.loads(workspace.config_file.read_text())
    assert saved["ASTER_RISK_PER_TRADE"] == 0.02 and saved["ASTER_LEVERAGE"] == 2
    assert page.locator("#lev-slider").get_attribute("max") == "5", "the slider never goes above 5x"
    expect(page.locator("#preset-active")).to_have_text("(custom)")


def test_settings_editor_validates_inline_and_saves_nothing_bad(workspace, serve, page):
    server = serve()
    open_page(page, server, "#/settings")
    page.reload()
    expect(page.locator("main#page[data-page='settings'][data-ready='1']")).to_have_count(1)
    lev_row = page.locator("[data-field='ASTER_LEVERAGE']")
    expect(lev_row).to_contain_text("Leverage set on a symbol")
    expect(lev_row).to_contain_text("unit: x")
    expect(lev_row).to_contain_text("range 1 to 125")
    before = workspace.config_file.read_bytes()

    page.fill("#cfg-ASTER_LEVERAGE", "500")
    expect(page.locator("#err-ASTER_LEVERAGE")).to_contain_text("above the maximum")
    expect(page.locator("#config-save")).to_be_disabled()
    shot(page, "settings_inline_error", "fieldset[data-group='sizing']")
    page.fill("#cfg-ASTER_LEVERAGE", "4")
    expect(page.locator("#err-ASTER_LEVERAGE")).to_have_text("")
    # a value that passes field checks but breaks a rule across fields: the server's 422 lands inline
    page.fill("#cfg-ASTER_RSI_SELL_MAX", "60")
    page.click("#config-save")
    page.click("#dialog-ok")                              # the diff before saving
    expect(page.locator("#err-ASTER_RSI_SELL_MAX")).to_contain_text("both long and short")
    expect(page.locator("#config-msg")).to_contain_text("not saved")
    assert workspace.config_file.read_bytes() == before, "nothing saved"

    page.fill("#cfg-ASTER_RSI_SELL_MAX", "49")
    page.fill("#cfg-ASTER_HTTP_TIMEOUT", "25")
    page.click("#config-save")
    expect(page.locator("#save-diff")).to_contain_text("ASTER_HTTP_TIMEOUT")
    page.click("#dialog-ok")
    expect(page.locator("#config-msg")).to_contain_text("saved 2 change(s)")
    saved = json.loads(workspace.config_file.read_text())
    assert saved["ASTER_LEVERAGE"] == 4 and saved["ASTER_HTTP_TIMEOUT"] == 25
    expect(page.locator("#audit-table tbody")).to_contain_text("ASTER_LEVERAGE: 3 → 4")
    shot(page, "settings_editor", "#editor-card")


def test_unknown_venue_host_is_confirmed_and_path_change_names_the_dashboard(workspace, serve, page):
    """Issue 12 items 13 and 15 on the page: an exchange address outside the known hosts is saved only
    after a dialog that names the host; a changed log directory says the dashboard needs a restart."""
    server = serve()
    open_page(page, server, "#/settings")
    expect(page.locator("#cfg-ASTER_DASHBOARD_ALLOW_PLAIN_HTTP")).to_be_disabled()
    before = workspace.config_file.read_bytes()
    page.fill("#cfg-ASTER_EXCHANGE_BASE", "https://fapi.asterdex.example.net")
    page.click("#config-save")
    page.click("#dialog-ok")                              # the diff before saving
    dialog = page.locator("#dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#confirm-hosts")).to_contain_text("fapi.asterdex.example.net")
    shot(page, "confirm_unknown_host", "#dialog")
    page.click("#dialog-cancel")
    expect(page.locator("#config-msg")).to_contain_text("not confirmed")
    assert workspace.config_file.read_bytes() == before, "nothing saved without the confirmation"
    page.click("#config-save")
    page.click("#dialog-ok")                              # the diff
    expect(page.locator("#confirm-hosts")).to_be_visible()
    page.click("#dialog-ok")                              # the host
    expect(page.locator("#config-msg")).to_contain_text("saved 1 change(s)")
    assert json.loads(workspace.config_file.read_text())["ASTER_EXCHANGE_BASE"] == "https://fapi.asterdex.example.net"

    page.fill("#cfg-ASTER_LOG_DIR", "logs-elsewhere")
    page.click("#config-save")
    page.click("#dialog-ok")
    expect(page.locator("#restart-text")).to_contain_text("the dashboard itself")
    expect(page.locator("#restart-text")).to_contain_text("ASTER_LOG_DIR")
    page.fill("#cfg-ASTER_STATE_FILE", "/etc/state.json")
    page.click("#config-save")
    page.click("#dialog-ok")
    expect(page.locator("#err-ASTER_STATE_FILE")).to_contain_text("must stay inside")


def test_logs_page_streams_and_filters(workspace, serve, page):
    log = workspace.log_dir / "guard.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(json.dumps({"ts": "2026-11-21T10:00:00.000Z", "level": "INFO", "src": "guard",
                               "event": "bracket.placed", "msg": "stop placed for ADAUSDT", "activity": True}) + "\n")
    server = serve(log_poll_interval=0.02)
    open_page(page, server)
    expect(page.locator("#activity-feed")).to_contain_text("stop placed for ADAUSDT")
    open_page(page, server, "#/logs")
    expect(page.locator("#log-view")).to_contain_text("stop placed for ADAUSDT")
    with open(log, "a") as fh:
        fh.write(json.dumps({"ts": "2026-11-21T10:00:01.000Z", "level": "DEBUG", "src": "guard",
                             "event": "tick", "msg": "debug detail"}) + "\n")
        fh.write(json.dumps({"ts": "2026-11-21T10:00:02.000Z", "level": "WARNING", "src": "guard",
                             "event": "bracket.repaired", "msg": "stop repaired on ADAUSDT"}) + "\n")
    expect(page.locator("#log-view")).to_contain_text("stop repaired on ADAUSDT")
    expect(page.locator("#log-view")).not_to_contain_text("debug detail")
    page.select_option("#log-level", "DEBUG")
    expect(page.locator("#log-view")).to_contain_text("debug detail")
    page.uncheck("#log-src-guard")
    expect(page.locator("#log-view")).not_to_contain_text("stop repaired on ADAUSDT")
    open_page(page, server)
    expect(page.locator("#activity-feed")).to_contain_text("stop repaired on ADAUSDT")


def test_login_when_a_token_is_set(workspace, serve, page):
    workspace.dotenv_file.write_text(f"ASTER_DASHBOARD_TOKEN={TOKEN}\n")
    workspace.dotenv_file.chmod(0o600)
    server = serve()
    page.goto(server.url + "/")
    expect(page).to_have_url(server.url + "/login")
    page.fill("#token", "wrong-token")
    page.click("#login-form button")
    expect(page.locator("#login-error")).to_have_text("wrong token")
    shot(page, "login")
    page.fill("#token", TOKEN)
    page.click("#login-form button")
    expect(page.locator("main#page[data-page='overview'][data-ready='1']")).to_have_count(1)
    expect(page.locator("#conn")).to_have_text("connected")
    assert TOKEN not in page.content()
    page.click("form.logout button")
    expect(page).to_have_url(server.url + "/login")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_paper_trading_fills_reach_the_feed_and_positions(workspace, serve, client_for, page):
    """The newcomer's path with the real processes: Start in paper mode, watch fills arrive."""
    port = free_port()
    workspace.write_config({
        "ASTER_PAPER": True, "ASTER_PAPER_FEED": "synthetic", "ASTER_PAPER_URL": f"http://127.0.0.1:{port}",
        "ASTER_PAPER_SYMBOLS": "BTCUSDT,ETHUSDT", "ASTER_INCLUDE_SYMBOLS": "BTCUSDT,ETHUSDT",
        "ASTER_PAPER_SPEED": 600, "ASTER_INTERVAL": "1m", "ASTER_HTF_INTERVAL": "5m", "ASTER_KLINES": 60,
        "ASTER_LOOP_SLEEP": 1, "ASTER_RSI_BUY_MIN": 0, "ASTER_RSI_SELL_MAX": 0, "ASTER_ALLOW_TREND_ALIGN": False,
        "ASTER_MIN_EDGE_R": -10, "ASTER_MIN_QUOTE_VOL_USDT": 0, "ASTER_SPREAD_BPS_MAX": 1,
        "ASTER_WICKINESS_MAX": 1, "ASTER_FUNDING_FILTER_ENABLED": False, "ASTER_BANDIT_ENABLED": False,
        "ASTER_LOGLEVEL": "DEBUG"})
    server = serve(commands=None, start_paper_exchange=True, exchange_factory=None, stop_timeout=10)
    api = client_for(server)
    try:
        open_page(page, server)
        page.click("#btn-start")
        deadline = time.monotonic() + 90
        while not page.locator("#activity-feed li[data-event='fill']").count():
            procs = api.get("/api/processes").json()["processes"]
            broken = {n: p for n, p in procs.items() if p["state"] in ("crashed", "restarting", "exited")}
            assert not broken, "a process died before the first fill: " + "; ".join(
                f"{n}: {p['message']} | {' / '.join(p['out_tail'][-2:])}" for n, p in broken.items())
            assert time.monotonic() < deadline, "no fill within 90 s"
            page.wait_for_timeout(250)
        expect(page.locator("#positions-card tr[data-symbol]").first).to_be_visible(timeout=60_000)
        shot(page, "paper_trading")
        open_page(page, server, "#/engine/scanner")
        expect(page.locator("#scan-table tbody tr[data-row]").first).to_be_visible(timeout=30_000)
    finally:
        for name in ("bot", "guard", "paper"):
            api.post(f"/api/{name}/stop")
