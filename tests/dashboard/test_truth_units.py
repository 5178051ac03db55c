"""Issue 15, the pure parts: qty of closed trades, venue-first positions, exit reasons by actor, the
quiet-entries line, the guard-rails and the closing-fill match."""
from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace

from mraster.domain.exits import reason_of_order
from mraster.domain.ids import FreshIds, Role, client_order_id
from mraster.domain.types import Side
from mraster.settings import load_settings
from mraster.state.model import BotState, Trade
from bot.runtime.decide import ScanRecord
from bot.runtime.operator import QuietWatch
from dashboard.services.exits import closing_fills
from dashboard.services.sizing import guardrails
from dashboard.services.views import positions_view, trade_row


def closed_trade() -> Trade:
    return Trade(trade_id="BTCUSDT.k1", symbol="BTCUSDT", side="LONG", status="closed", qty=D(0), entry_qty=D("0.5"),
                 entry_price=D("100"), entry_time_ms=1_000, exit_time_ms=61_000, exit_price=D("101"),
                 exit_reason="take_profit")


def test_a_closed_trade_shows_its_entry_quantity_not_zero():
    row = trade_row(closed_trade())
    assert row["qty"] == 0.5 and row["entry_qty"] == 0.5 and row["duration_s"] == 60.0


def test_rows_the_venue_does_not_hold_are_never_shown_as_open():
    state = BotState()
    state.open_trades["ETHUSDT.k2"] = Trade(trade_id="ETHUSDT.k2", symbol="ETHUSDT", side="SHORT", status="open",
                                            qty=D(1), entry_price=D(2000), entry_time_ms=5)
    guard = {"positions": [{"symbol": "ETHUSDT", "side": "SHORT", "protected": True, "stop": {"ok": True},
                            "take_profit": {"ok": True}}]}
    assert positions_view(state, guard, True, []) == [], "flat on the venue: not listed, not 'protected'"
    unknown = positions_view(state, guard, True, None)
    assert [r["venue"] for r in unknown] == ["unknown"], "venue not asked: shown, but marked unconfirmed"
    held = positions_view(state, guard, True, [{"symbol": "ETHUSDT", "side": "SHORT", "qty": 1.0, "entry_price": 2000.0,
                                                "mark_price": 1990.0, "unrealized_pnl": 10.0, "leverage": 5,
                                                "liquidation_price": 2380.0, "isolated_margin": 0.0}],
                          now_ms=65_005)
    (r,) = held
    assert r["guard"] == "protected" and r["notional"] == 1990.0 and r["margin"] == 398.0
    assert r["pnl_pct"] == round(100 * 10 / 398, 4) and r["duration_s"] == 65.0
    assert r["liq_distance_pct"] == round(100 * 390 / 1990, 4)


def test_exit_reasons_say_who_closed():
    order = lambda cid: SimpleNamespace(client_order_id=cid, order_id=1)  # noqa: E731
    trade = SimpleNamespace(fasttp_count=0)
    clock = lambda: 1_800_000_000_000  # noqa: E731
    assert reason_of_order(order(FreshIds("d", clock)("BTCUSDT.k1", Role.CLOSE)), trade) == "flatten"
    assert reason_of_order(order(FreshIds("c", clock)("BTCUSDT.k1", Role.CLOSE)), trade) == "manual_close"
    assert reason_of_order(order(FreshIds("g", clock)("BTCUSDT.k1", Role.CLOSE)), trade) == "guard_close"
    assert reason_of_order(order(client_order_id("BTCUSDT.k1", Role.CLOSE)), trade) == "closed"
    assert reason_of_order(order(client_order_id("BTCUSDT.k1", Role.STOP)), trade) == "stop"
    assert reason_of_order(order("web_123"), trade) == "manual"


def test_no_entry_for_n_cycles_while_signals_fire_is_said_with_the_dominant_reason():
    watch = QuietWatch(every=3)
    recs = {"A": ScanRecord("A", reason="setup_failed"), "B": ScanRecord("B", reason="setup_failed"),
            "C": ScanRecord("C", reason="spread"), "D": ScanRecord("D", reason="no_signal")}
    assert watch.observe(0, recs) == "" and watch.observe(0, recs) == ""
    text = watch.observe(0, recs)
    assert text.startswith("no entry for 3 cycles") and "mostly: setup_failed 6, spread 3" in text
    assert watch.observe(0, {"D": ScanRecord("D", reason="no_signal")}) == "", "no signal: nothing to explain"
    watch.observe(0, recs)
    watch.observe(1, recs)
    assert watch.cycles == 0, "an entry starts the count again"


def test_guardrails_stop_beyond_liquidation_and_untouched_settings():
    s = load_settings(env={}).settings
    after = s.with_values(leverage=50, sl_atr_mult=2.0)
    errors, _ = guardrails({"ASTER_LEVERAGE": 50}, after, max_leverage={"BTCUSDT": 125}, universe=["BTCUSDT"],
                           atr_fractions={"BTCUSDT": 0.01})
    assert "liquidated before its stop" in errors["ASTER_LEVERAGE"]
    errors, warnings = guardrails({"ASTER_LOOP_SLEEP": 5}, after, max_leverage=None, universe=["BTCUSDT"],
                                  atr_fractions={"BTCUSDT": 0.01})
    assert errors == {} and warnings == [], "a change that does not touch them is not judged"


def test_closing_fills_must_cover_the_entry_quantity():
    trade = Trade(trade_id="BTCUSDT.k1", symbol="BTCUSDT", side="LONG", status="open", qty=D(1), entry_qty=D(1),
                  entry_time_ms=100, order_ids={"EN": 7})
    fill = lambda i, oid, side, qty, t: SimpleNamespace(id=i, order_id=oid, side=side, qty=D(qty), time=t)  # noqa: E731
    entry = fill(1, 7, Side.BUY, "1", 100)
    assert closing_fills(trade, [entry, fill(2, 8, Side.SELL, "0.4", 200)]) is None, "half closed: not yet"
    entries, closing = closing_fills(trade, [entry, fill(2, 8, Side.SELL, "0.4", 200), fill(3, 9, Side.SELL, "0.6", 300),
                                             fill(4, 10, Side.SELL, "1", 400)])
    assert [f.id for f in entries] == [1] and [f.id for f in closing] == [2, 3], "a later trade's fill is not taken"


def test_a_value_sent_again_unchanged_is_not_judged(workspace, serve, client_for):
    """A save that repeats a stored value outside the guard-rails (set in the file) is not blocked by it;
    changing that value is judged."""
    workspace.write_config({"ASTER_PAPER": True, "ASTER_PAPER_FEED": "synthetic", "ASTER_RISK_PER_TRADE": 0.08})
    api = client_for(serve())
    assert api.patch("/api/config", json={"ASTER_RISK_PER_TRADE": 0.08, "ASTER_LOOP_SLEEP": 5}).status_code == 200
    resp = api.patch("/api/config", json={"ASTER_RISK_PER_TRADE": 0.09})
    assert resp.status_code == 422 and "sane bound" in resp.json()["errors"]["ASTER_RISK_PER_TRADE"]
