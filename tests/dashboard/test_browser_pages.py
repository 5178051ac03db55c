"""The pages of the dashboard in Debian's Chromium (issue 15): every page at 1400x900 and 390x844 without
horizontal overflow and with every control reachable, deep links, the candle chart with its markers and
lines, the scan and bandit tables, the logs page (follow after toggling, search, folded skips, no ANSI),
the settings editor (search, percent, diff before saving) and the one clock.

One dashboard and one browser serve the whole module; screenshots go to tests/artifacts/pages/."""
from __future__ import annotations

import json
import sys
import textwrap
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from dashboard.app import create_app
from mraster.domain.rules import SymbolRules
from mraster.domain.types import Kline
from mraster.settings import load_settings

from tests.dashboard.conftest import SLEEPER, ServerThread
from tests.dashboard.fakes import InMemoryVenue, build_state, guard_status, position, write_state
from tests.dashboard.browser import chromium, watched_page

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "pages"
SIZES = {"wide": (1400, 900), "phone": (390, 844)}
ROUTES = {"overview": "#/overview", "engine": "#/engine/scanner", "trades": "#/trades",
          "chart": "#/chart/ADAUSDT?interval=1m", "logs": "#/logs", "settings": "#/settings"}
SCAN = {"ADAUSDT": {"decision": "skip", "reason": "position_open", "side": 1, "rsi": 61.234, "htf_rsi": 55.1,
                    "atr": 0.0012, "close": 0.3068, "spread": 0.00033, "funding": 0.0001, "edge": 0.12, "arm": "M",
                    "policy_arm": "M", "scores": {"SKIP": {"mean": 0, "bonus": 0.1, "score": 0.1},
                                                  "S": {"mean": 0.05, "bonus": 0.2, "score": 0.25},
                                                  "M": {"mean": 0.1, "bonus": 0.3, "score": 0.4},
                                                  "L": {"mean": 0.02, "bonus": 0.25, "score": 0.27}}},
        "BTCUSDT": {"decision": "skip", "reason": "spread_too_wide", "side": -1, "rsi": 38.2, "htf_rsi": 47.0,
                    "atr": 120.0, "close": 60000.0, "spread": 0.012, "funding": -0.0002, "edge": None, "arm": ""},
        "ETHUSDT": {"decision": "enter", "reason": "enter", "side": 1, "rsi": 72.5, "htf_rsi": 60.2,
                    "atr": 9.0, "close": 3000.0, "spread": 0.0002, "funding": 0.0001, "edge": 0.3, "arm": "L"}}
POLICY = {"mode": "active", "decisions": 40, "alpha": 0.5,
          "arms": {"SKIP": {"chosen": 10, "taken": 10, "rewarded": 10, "reward_mean": 0.0, "size_mult": 0.0},
                   "S": {"chosen": 12, "taken": 9, "rewarded": 8, "reward_mean": 0.125, "size_mult": 1.0},
                   "M": {"chosen": 7, "taken": 6, "rewarded": 6, "reward_mean": 0.3, "size_mult": 1.4},
                   "L": {"chosen": 11, "taken": 5, "rewarded": 4, "reward_mean": -0.2, "size_mult": 1.9}},
          "alpha_model": {"n_trades": 18, "min_trades": 30, "mean_r": 0.1}}
ANSI_MSG = "\x1b[32mGET /api/state\x1b[0m 200"


class Venue(InMemoryVenue):
    """The in-memory venue plus the symbol list, `end_time` on candles, and a position with a liquidation price."""

    async def klines(self, symbol: str, interval: str, limit: int = 500, start_time: int | None = None,
                     end_time: int | None = None, **_: Any) -> list[Kline]:
        rows = await super().klines(symbol, interval, limit=10_000)
        if end_time is not None:
            rows = [k for k in rows if k.open_time <= end_time]
        return rows[-limit:]

    async def symbol_rules(self, refresh: bool = False) -> dict[str, SymbolRules]:
        def rules(sym: str, tick: str) -> SymbolRules:
            return SymbolRules(symbol=sym, tick_size=Decimal(tick), step_size=Decimal("1"), min_qty=Decimal("1"),
                               max_qty=Decimal("1000000"))
        return {"ADAUSDT": rules("ADAUSDT", "0.0001"), "BTCUSDT": rules("BTCUSDT", "0.1"),
                "ETHUSDT": rules("ETHUSDT", "0.01")}


def log_line(ts: str, level: str, src: str, event: str, msg: str, **extra: Any) -> str:
    return json.dumps({"ts": ts, "level": level, "src": src, "event": event, "msg": msg, **extra}) + "\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("pages")
    env = {"ASTER_CONFIG_FILE": str(root / "dashboard_config.json"), "ASTER_DOTENV_FILE": str(root / ".env")}
    (root / "dashboard_config.json").write_text(json.dumps({"ASTER_PAPER": True, "ASTER_PAPER_FEED": "synthetic"}))
    state = build_state()
    state = replace(state, last_scan={"cycle": 17, "time_ms": state.updated_ms, "symbols": SCAN,
                                      "summary": {"scanned": 3, "candidates": 2, "entries": 1,
                                                  "skips": {"position_open": 1, "spread_too_wide": 1}}},
                    policy=POLICY)
    write_state(root / "aster_state.json", state)
    (root / "run").mkdir()
    (root / "run" / "guard_status.json").write_text(json.dumps(guard_status()))
    logs = root / "logs"
    logs.mkdir()
    lines = [log_line("2026-11-21T10:00:00.000Z", "INFO", "guard", "bracket.placed", "stop placed for ADAUSDT",
                      activity=True),
             log_line("2026-11-21T10:00:00.500Z", "INFO", "dashboard", "http.access", ANSI_MSG,
                      color_message=ANSI_MSG)]
    lines += [log_line(f"2026-11-21T10:00:01.{i:03d}Z", "INFO", "bot", "decision", f"SYM{i}USDT: skip (spread)",
                       symbol=f"SYM{i}USDT", decision="skip", reason="spread") for i in range(5)]
    lines += [log_line("2026-11-21T10:00:02.000Z", "INFO", "bot", "cycle.done", "cycle 17 done")]
    (logs / "bot.jsonl").write_text("".join(lines))
    venue = Venue(positions=[replace(position("ADAUSDT", "400", "0.307"), liquidation_price=Decimal("0.2101"),
                                     leverage=3)])
    sleeper = root / "sleeper.py"          # bot and guard are listed (stopped) but never started here
    sleeper.write_text(textwrap.dedent(SLEEPER))
    commands = {name: (sys.executable, str(sleeper), name) for name in ("bot", "guard")}
    app = create_app(loader=lambda: load_settings(env=env, cwd=root), commands=commands,
                     exchange_factory=lambda s: venue, log_poll_interval=0.02)
    server = ServerThread(app).start()
    server.root = root
    server.state = state
    yield server
    server.stop()


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-pages"), timezone_id="Asia/Kolkata") as ctx:
        yield ctx


@pytest.fixture
def page(context):
    with watched_page(context) as page:
        yield page


def open_route(page: Page, site, route: str, page_id: str) -> None:
    page.goto(site.url + "/" + route)
    expect(page.locator(f"main#page[data-page='{page_id}'][data-ready='1']")).to_have_count(1)
    expect(page.locator("#conn")).to_have_text("connected")
    if page_id == "trades":         # the page may draw its rows after it is mounted
        expect(page.locator("#page tr[data-trade]").first).to_be_visible()


# Every visible control: scrolled into view, inside the viewport and not covered by anything else.
UNREACHABLE = """() => {
  const bad = [];
  const controls = [...document.querySelectorAll("header button, header select, header input, nav a, #page button, "
    + "#page input, #page select, #page a")].filter((n) => n.offsetParent !== null && !n.closest("details:not([open])"));
  for (const n of controls) {
    n.scrollIntoView({ block: "center", inline: "center" });
    const r = n.getBoundingClientRect();
    const x = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1), y = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
    const top = document.elementFromPoint(x, y);
    const inside = r.right > 0 && r.left < innerWidth && r.bottom > 0 && r.top < innerHeight;
    if (!inside || !top || !(n === top || n.contains(top) || top.contains(n) || (n.labels && [...n.labels].some((l) => l.contains(top)))))
      bad.push(`${n.tagName.toLowerCase()}#${n.id || ""}[${(n.textContent || n.getAttribute("aria-label") || n.name || "").trim().slice(0, 30)}] `
        + `at ${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.width)}x${Math.round(r.height)} covered by ${top ? top.tagName + "#" + top.id + "." + top.className : "nothing"}`);
  }
  window.scrollTo(0, 0);
  return { bad, count: controls.length };
}"""


@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_fits_and_every_control_is_reachable(site, page, size):
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for page_id, route in ROUTES.items():
        open_route(page, site, route, page_id)
        if page_id == "chart":
            expect(page.locator("#price-chart[data-ready='1']")).to_have_count(1)
        if page_id == "settings":
            expect(page.locator("[data-field='ASTER_LEVERAGE']")).to_have_count(1)
        if page_id == "logs":
            expect(page.locator("#log-view")).to_contain_text("cycle 17 done")
        overflow = page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
        assert overflow[0] <= overflow[1], f"{page_id} at {size}: the page is {overflow[0]} px wide in {overflow[1]} px"
        page.screenshot(path=str(ARTIFACTS / f"{page_id}-{width}.png"), full_page=page_id != "settings")
        result = page.evaluate(UNREACHABLE)
        assert result["count"] > 3, f"{page_id}: no controls found"
        assert not result["bad"], f"{page_id} at {size}: controls out of reach: {result['bad'][:5]}"


def test_deep_links_load_their_page(site, page):
    page.set_viewport_size({"width": 1400, "height": 900})
    open_route(page, site, "#/chart/BTCUSDT?interval=15m", "chart")
    expect(page.locator("#chart-symbol")).to_have_value("BTCUSDT")
    expect(page.locator("#chart-interval")).to_have_value("15m")
    expect(page.locator("nav a.active")).to_have_text("Chart")
    page.reload()
    expect(page.locator("main#page[data-page='chart']")).to_have_count(1)
    expect(page.locator("#chart-symbol")).to_have_value("BTCUSDT")
    page.select_option("#chart-interval", "1h")
    expect(page).to_have_url(site.url + "/#/chart/BTCUSDT?interval=1h")
    open_route(page, site, "#/engine/scanner", "engine")
    expect(page.locator("#engine-card h2")).to_have_text("Engine scanner")
    page.click("nav a[data-page='logs']")
    expect(page.locator("main#page[data-page='logs'][data-ready='1']")).to_have_count(1)
    page.go_back()
    expect(page.locator("main#page[data-page='engine']")).to_have_count(1)
    page.goto(site.url + "/#/nowhere")
    expect(page.locator("#page")).to_contain_text("No such page")
    page.goto(site.url + "/")
    expect(page.locator("main#page[data-page='overview']")).to_have_count(1)
    expect(page.locator("#mode-badge")).to_have_text("PAPER · simulated")


def test_chart_draws_candles_markers_and_lines_and_zooms_to_a_trade(site, page):
    page.set_viewport_size({"width": 1400, "height": 900})
    open_route(page, site, "#/chart/ADAUSDT?interval=1m", "chart")
    box = page.locator("#price-chart[data-ready='1']")
    expect(box).to_have_count(1)
    assert box.get_attribute("data-candles") == "300"
    assert box.get_attribute("data-markers") == "5", "2 closed trades (entry and exit) and the open entry"
    row = page.evaluate("() => fetch('/api/state').then((r) => r.json()).then((s) => s.positions[0])")
    expected = sum(1 for k in ("entry_price", "stop_price", "take_profit_price", "liquidation_price") if row.get(k))
    assert expected >= 3
    assert box.get_attribute("data-lines") == str(expected)
    assert page.locator("#price-chart canvas").count() >= 2
    width = page.evaluate("() => document.querySelector('#price-chart').getBoundingClientRect().width")
    assert width > 1300, f"the chart is only {width} px wide"
    # the chart has drawn: its main canvas is not one flat colour
    colours = page.evaluate("""() => { const c = [...document.querySelectorAll('#price-chart canvas')]
        .sort((a, b) => b.width * b.height - a.width * a.height)[0];
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const seen = new Set();
      for (let i = 0; i < d.length; i += 397 * 4) seen.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2]); return seen.size; }""")
    assert colours > 3
    # zoom to a trade from the trade table
    open_route(page, site, "#/trades", "trades")
    trade = site.state.closed_trades[0]
    page.locator(f"#page tr[data-trade='{trade.trade_id}'] td").nth(1).click()
    expect(page.locator("main#page[data-page='chart']")).to_have_count(1)
    query = dict(part.split("=") for part in page.url.split("?", 1)[1].split("&"))
    assert int(query["from"]) <= trade.entry_time_ms and int(query["to"]) >= trade.exit_time_ms
    expect(page.locator("#price-chart[data-ready='1']")).to_have_count(1)
    shown_from = float(page.locator("#price-chart").get_attribute("data-from"))
    shown_to = float(page.locator("#price-chart").get_attribute("data-to"))
    assert shown_from <= trade.entry_time_ms / 1000 and shown_to >= trade.exit_time_ms / 1000
    assert shown_to - shown_from < 299 * 60, "zoomed in, not every candle"


def test_scan_and_bandit_tables_sort_and_filter(site, page):
    page.set_viewport_size({"width": 1400, "height": 900})
    open_route(page, site, "#/engine/scanner", "engine")
    rows = page.locator("#scan-table tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#scan-table")).to_contain_text("spread_too_wide")
    ada = page.locator("#scan-table tr[data-row='ADAUSDT']")
    expect(ada).to_contain_text("61.2")       # RSI to one decimal
    expect(ada).to_contain_text("0.39 %")     # ATR % = 0.0012 / 0.3068
    expect(ada).to_contain_text("×1.4")       # the M arm's size
    page.click("#scan-table th[data-key='rsi'] button")
    expect(rows.first).to_have_attribute("data-row", "BTCUSDT")
    page.click("#scan-table th[data-key='rsi'] button")
    expect(rows.first).to_have_attribute("data-row", "ETHUSDT")
    page.fill("#scan-filter", "spread")
    expect(rows).to_have_count(1)
    page.fill("#scan-filter", "")
    page.select_option("#scan-decision", "enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-row", "ETHUSDT")
    arms = page.locator("#bandit-table tbody tr")
    expect(arms).to_have_count(4)
    m = page.locator("#bandit-table tr[data-row='M']")
    expect(m).to_contain_text("0.3")       # mean R
    expect(m).to_contain_text("0.4")       # score at the last decision
    expect(page.locator("#scan-summary")).to_contain_text("3 scanned")


def test_logs_follow_after_toggling_search_folded_skips_and_no_ansi(site, page):
    page.set_viewport_size({"width": 1400, "height": 900})
    open_route(page, site, "#/logs", "logs")
    view = page.locator("#log-view")
    expect(view).to_contain_text("cycle 17 done")
    text = view.inner_text()
    assert "\x1b" not in text and "[32m" not in text and "GET /api/state" in text
    group = page.locator("#log-view details.skips")
    expect(group).to_have_count(1)
    expect(group.locator(".count")).to_have_text("5")
    assert group.get_attribute("open") is None, "folded by default"
    page.uncheck("#log-fold")
    expect(page.locator("#log-view details.skips")).to_have_count(0)
    expect(view).to_contain_text("SYM3USDT: skip")
    page.check("#log-fold")
    page.fill("#log-search", "bracket")
    expect(page.locator("#log-view .line")).to_have_count(1)
    page.uncheck("#log-src-paper")
    expect(page).to_have_url(site.url + "/#/logs?level=INFO&sources=bot%2Cguard%2Cdashboard&q=bracket")
    page.reload()
    expect(page.locator("#log-src-paper")).not_to_be_checked()
    expect(page.locator("#log-search")).to_have_value("bracket")
    expect(page.locator("#log-view .line")).to_have_count(1)
    page.fill("#log-search", "")
    expect(page.locator("#log-view .line")).not_to_have_count(1)

    log = site.root / "logs" / "bot.jsonl"
    at_bottom = "() => { const v = document.querySelector('#log-view'); return v.scrollTop + v.clientHeight >= v.scrollHeight - 2; }"
    page.uncheck("#log-follow")
    with open(log, "a") as fh:
        fh.write("".join(log_line("2026-11-21T10:01:00.000Z", "INFO", "bot", "filler", f"filler line {i}")
                         for i in range(200)))
    expect(view).to_contain_text("filler line 199")
    page.evaluate("() => { document.querySelector('#log-view').scrollTop = 0; }")
    assert not page.evaluate(at_bottom), "not following: the view stays where the user left it"
    page.check("#log-follow")
    assert page.evaluate(at_bottom), "ticking Follow jumps to the newest line"
    with open(log, "a") as fh:
        fh.write("".join(log_line("2026-11-21T10:02:00.000Z", "INFO", "bot", "later", f"later line {i}")
                         for i in range(100)))
    expect(view).to_contain_text("later line 99")
    page.wait_for_function(at_bottom)
    page.mouse.move(700, 500)
    page.mouse.wheel(0, -400)
    expect(page.locator("#log-follow")).not_to_be_checked()


def test_settings_search_percent_and_diff_before_saving(site, page):
    page.set_viewport_size({"width": 390, "height": 844})
    open_route(page, site, "#/settings", "settings")
    risk = page.locator("#cfg-ASTER_RISK_PER_TRADE")
    expect(risk).to_have_value("0.7")
    row = page.locator("[data-field='ASTER_RISK_PER_TRADE']")
    expect(row).to_contain_text("Risk per trade")
    expect(row).to_contain_text("% (stored as a fraction")
    page.fill("#settings-search", "risk per trade")
    expect(row).to_be_visible()
    expect(page.locator("[data-field='ASTER_LEVERAGE']")).to_be_hidden()
    page.fill("#settings-search", "")
    page.locator("[data-field='ASTER_HTTP_TIMEOUT']").scroll_into_view_if_needed()
    risk.fill("1.1")
    save = page.locator("#config-save")
    expect(save).to_be_enabled()
    box, viewport = save.bounding_box(), page.viewport_size
    assert box and 0 <= box["y"] and box["y"] + box["height"] <= viewport["height"], "the save bar stays in reach"
    before = json.loads((site.root / "dashboard_config.json").read_text())
    save.click()
    diff = page.locator("#save-diff tr[data-name='ASTER_RISK_PER_TRADE']")
    expect(diff).to_contain_text("0.7 %")
    expect(diff).to_contain_text("1.1 %")
    page.click("#dialog-cancel")
    expect(page.locator("#config-msg")).to_contain_text("not saved")
    assert json.loads((site.root / "dashboard_config.json").read_text()) == before
    save.click()
    page.click("#dialog-ok")
    expect(page.locator("#config-msg")).to_contain_text("saved 1 change(s)")
    assert json.loads((site.root / "dashboard_config.json").read_text())["ASTER_RISK_PER_TRADE"] == 0.011
    expect(page.locator("#risk-value")).to_have_text("1.10 %")
    risk.fill("90")
    expect(page.locator("#err-ASTER_RISK_PER_TRADE")).to_contain_text("above the maximum")
    expect(save).to_be_disabled()


def test_one_clock_utc_by_default_local_as_a_choice(site, page):
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(site.url + "/")
    page.evaluate("() => localStorage.removeItem('mraster.clock')")
    open_route(page, site, "#/trades", "trades")
    trade = site.state.closed_trades[0]
    utc = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(trade.exit_time_ms / 1000))
    cell = page.locator(f"#page tr[data-trade='{trade.trade_id}'] td").first
    expect(cell).to_have_text(utc)
    page.select_option("#clock-zone", "local")
    kolkata = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(trade.exit_time_ms / 1000 + 5.5 * 3600))
    expect(page.locator(f"#page tr[data-trade='{trade.trade_id}'] td").first).to_have_text(kolkata)
    page.reload()
    expect(page.locator("#clock-zone")).to_have_value("local")
    expect(page.locator(f"#page tr[data-trade='{trade.trade_id}'] td").first).to_have_text(kolkata)
    page.select_option("#clock-zone", "UTC")
    expect(page.locator(f"#page tr[data-trade='{trade.trade_id}'] td").first).to_have_text(utc)


def test_formatters_and_helpers(site, page):
    """The pure parts of the page, run in the browser: prices to the tick, percent that round-trips to the
    stored fraction, drawdown, candle snapping, skip detection, ANSI stripping, labels."""
    page.goto(site.url + "/static/css/app.css")      # any same-origin page: the modules are imported below
    out = page.evaluate("""async () => {
      const f = await import("/static/js/format.js");
      const s = await import("/static/js/settings-fields.js");
      const e = await import("/static/js/widgets/equity.js");
      const c = await import("/static/js/widgets/candles.js");
      const l = await import("/static/js/pages/logs.js");
      const t = await import("/static/js/pages/trades.js");
      const k = await import("/static/js/pages/chart.js");
      f.setTicks([{ symbol: "BTCUSDT", tick_size: "0.10" }, { symbol: "ADAUSDT", tick_size: "0.0001" }]);
      const pct = { type: "float", unit: "fraction", min: 0.0001, max: 0.05 };
      const roundTrips = [0.007, 0.0035, 0.012, 0.0001, 0.05, 0.0015].every((v) => s.typed(pct, s.shown(pct, v)) === v);
      return {
        btc: f.fmtPrice(64123.456, "BTCUSDT"), ada: f.fmtPrice(0.30679, "ADAUSDT"), unknown: f.fmtPrice(0.123456789),
        pct: f.fmtPct(0.0123), money: f.fmtMoney(-3.456), dur: f.fmtDuration(3_725_000), decimals: f.decimalsOf("0.00100"),
        shown: s.shown(pct, 0.007), roundTrips, tooBig: s.validate(pct, "6"), ok: s.validate(pct, "1.2"),
        label: s.humanLabel("ASTER_HTF_RSI_MIN"), plainUnit: s.unitText({ type: "float", unit: "x" }),
        dd: e.drawdown([100, 110, 99, 120]).map((v) => Math.round(v * 100) / 100),
        bar: [c.barTime([60, 120, 180], 150), c.barTime([60, 120, 180], 30), c.barTime([60, 120, 180], 999)],
        skip: [l.isSkip({ event: "decision", decision: "skip", symbol: "X" }), l.isSkip({ group: "skip" }),
               l.isSkip({ event: "decision", decision: "enter", symbol: "X" })],
        ansi: f.stripAnsi("\\u001b[32mGET\\u001b[0m /api 200"),
        interval: [t.intervalFor(10 * 60000), t.intervalFor(3 * 3600000), t.intervalFor(10 * 3600000), t.intervalFor(5 * 86400000)],
        limit: [k.candlesFor("1m", null, null), k.candlesFor("1m", 60000, 3001 * 60000), k.candlesFor("1h", 60000, 3 * 3600000)],
      };
    }""")
    assert out["btc"] == "64,123.5" and out["ada"] == "0.3068" and out["unknown"] == "0.123457"
    assert out["pct"] == "1.23 %" and out["money"] == "-3.46" and out["dur"] == "1h 2m" and out["decimals"] == 3
    assert out["shown"] == "0.7" and out["roundTrips"], "percent shown, the stored fraction unchanged"
    assert "above the maximum" in out["tooBig"] and "5 %" in out["tooBig"] and out["ok"] == ""
    assert out["label"] == "Higher-timeframe RSI min" and out["plainUnit"] == "x"
    assert out["dd"] == [0, 0, -10, 0]
    assert out["bar"] == [120, None, 180]
    assert out["skip"] == [True, True, False]
    assert out["ansi"] == "GET /api 200"
    assert out["interval"] == ["1m", "5m", "15m", "4h"] and out["limit"] == [500, 1500, 200]
