"""State file: round trip with every field, compatibility with files lacking the new fields,
corrupt-file recovery."""
from __future__ import annotations

import json
from decimal import Decimal as D

from mraster.state import SCHEMA_VERSION, BotState, StateStore, Trade, read_state_readonly


def full_state() -> BotState:
    t = Trade(trade_id="BTCUSDT.k1", symbol="BTCUSDT", side="SHORT", status="open", qty=D("0.012"),
              entry_price=D("65000.1"), entry_time_ms=1, stop_price=D("65500"), take_profit_price=D("64000"),
              atr=123.4, risk_per_unit=D("499.9"), bucket="L", client_ids={"SL": "mr-BTCUSDT.k1-SL"},
              order_ids={"SL": 42}, context={"rsi": 40.0}, decision={"arm": "L"}, entry_qty=D("0.012"),
              fasttp_count=1, updated_ms=5)
    c = Trade(trade_id="ETHUSDT.k0", symbol="ETHUSDT", side="LONG", status="closed", exit_reason="stop",
              realized_pnl=D("-1.5"), fees=D("0.1"), funding=D("0"), r_multiple=-1.06, exit_detail="order 7")
    return BotState(cycle=3, open_trades={t.trade_id: t}, closed_trades=[c], fasttp_cooldowns={"BTCUSDT": 99},
                    equity={"wallet": "1000"}, equity_curve=[[1, 1000.0]], last_scan={"cycle": 3},
                    heartbeat_wall_ms=7, symbol_setup={"BTCUSDT": {"leverage": 3, "margin_type": "ISOLATED"}},
                    universe=["BTCUSDT"], paper={"feed": "synthetic"})


def test_round_trip(tmp_path):
    store = StateStore(tmp_path / "s.json")
    st = full_state()
    store.save(st)
    back = store.load()
    assert back == st
    assert read_state_readonly(tmp_path / "s.json") == st


def test_older_file_without_new_fields_loads(tmp_path):
    data = full_state().to_json()
    for k in ("heartbeat_wall_ms", "symbol_setup", "universe", "paper", "started_ms"):
        data.pop(k)
    for t in data["open_trades"].values():
        for k in ("entry_qty", "exit_detail", "updated_ms"):
            t.pop(k)
    (tmp_path / "s.json").write_text(json.dumps(data))
    st = StateStore(tmp_path / "s.json").load()
    assert st.schema_version == SCHEMA_VERSION and st.symbol_setup == {} and st.open_trades["BTCUSDT.k1"].entry_qty is None


def test_corrupt_file_is_moved_aside_not_overwritten(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"schema_version": 1, "open_trades": {"x": {"trade_id": "x"}}')  # truncated JSON
    state, err = StateStore(path).load_or_new()
    assert err is not None and state == BotState()
    assert not path.exists() and err.quarantined.exists()
    assert err.quarantined.read_text().startswith('{"schema_version"')


def test_wrong_schema_and_bad_trade_are_corrupt(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"schema_version": 99}))
    assert StateStore(path).load_or_new()[1] is not None
    bad = full_state().to_json()
    bad["open_trades"]["BTCUSDT.k1"]["side"] = "UP"
    path.write_text(json.dumps(bad))
    _, err = StateStore(path).load_or_new()
    assert err is not None and "LONG or SHORT" in err.reason
