"""`mraster import-legacy`: the original bot's aster_state.json (and policy) into mraster, run as a real
child process on files in tmp_path."""
from __future__ import annotations

import json

from mraster.state import StateStore

from tests.settings.test_cli import ROOT, mraster

BINANCE_2021 = ROOT / "mraster" / "data" / "exchange_info_binance_um_2021-07.json"


def rules_file(tmp_path, cake_tick="0.0001"):
    """The packaged exchangeInfo (BTCUSDT, ETHUSDT, ...) plus a CAKEUSDT listing with the given tick."""
    info = json.loads(BINANCE_2021.read_text())
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    cake = json.loads(json.dumps(btc))
    cake.update(symbol="CAKEUSDT", baseAsset="CAKE", pair="CAKEUSDT")
    for f in cake["filters"]:
        if f["filterType"] == "PRICE_FILTER":
            f.update(tickSize=cake_tick, minPrice=cake_tick)
    info["symbols"].append(cake)
    path = tmp_path / "exchange_info.json"
    path.write_text(json.dumps(info))
    return str(path)

LEGACY_STATE = {
    "live_trades": {
        "CAKEUSDT": {"entry": 2.4888, "sl": 2.4816000000000003, "tp": 2.5013, "side": "BUY", "qty": 54.0,
                     "ctx": {"rsi": 57.0, "adx": 33.1}, "bucket": "S", "atr_abs": 0.0042,
                     "opened_at": 1761995125.51},
        "ETHUSDT": {"entry": 3900.5, "sl": 3950.0, "tp": 3820.0, "side": "SELL", "qty": 0.05, "ctx": {},
                    "bucket": "M", "atr_abs": 30.0, "opened_at": 1761995000.0},
    },
    "trade_history": [
        {"symbol": "BTCUSDT", "side": "BUY", "qty": 0.002, "entry": 110000.0, "exit": 110500.0, "pnl": 1.0,
         "pnl_r": 0.8, "opened_at": 1761990000.0, "closed_at": 1761993000.0, "bucket": "L", "context": {}},
    ],
    "fast_tp_cooldown": {"CAKEUSDT": 1761995200.0},
    "policy": {"gate": {"alpha": 1.6, "l2": 0.001, "d": 2, "A": [[1, 0], [0, 1]], "b": [[0], [0]]},
               "size": {"alpha": 0.8, "l2": 0.001, "d": 2, "A": [[1, 0], [0, 1]], "b": [[0], [0]]}},
    "ai_activity": [],
}


def write(path, doc):
    path.write_text(json.dumps(doc))
    return path.read_bytes()


def test_open_trades_and_history_are_imported_and_the_original_is_untouched(tmp_path):
    src = tmp_path / "old" / "aster_state.json"
    src.parent.mkdir()
    before = write(src, LEGACY_STATE)
    result = mraster("import-legacy", "--state", str(src), "--rules", rules_file(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert src.read_bytes() == before
    st = StateStore(tmp_path / "aster_state.json").load()
    by_symbol = {t.symbol: t for t in st.open_trades.values()}
    cake = by_symbol["CAKEUSDT"]
    assert cake.side == "LONG" and cake.status == "open" and cake.adopted
    assert str(cake.entry_price) == "2.4888" and str(cake.stop_price) == "2.4816"      # snapped to the tick grid
    assert str(cake.take_profit_price) == "2.5013" and cake.qty == cake.entry_qty == 54
    assert cake.risk_per_unit == cake.entry_price - cake.stop_price
    assert cake.entry_time_ms == 1761995125510 and cake.trade_id.startswith("CAKEUSDT.")
    assert by_symbol["ETHUSDT"].side == "SHORT"
    (hist,) = st.closed_trades
    assert hist.symbol == "BTCUSDT" and hist.r_multiple == 0.8 and hist.exit_reason == "unknown"
    assert "policy embedded" in result.stdout and "fast_tp_cooldown" in result.stdout


def test_existing_output_needs_force_and_is_kept_as_a_backup(tmp_path):
    src = tmp_path / "legacy.json"
    write(src, LEGACY_STATE)
    (tmp_path / "aster_state.json").write_text("{}")
    rules = rules_file(tmp_path)
    refused = mraster("import-legacy", "--state", str(src), "--rules", rules, cwd=tmp_path)
    assert refused.returncode == 2 and "already exists" in refused.stderr
    assert (tmp_path / "aster_state.json").read_text() == "{}"
    forced = mraster("import-legacy", "--state", str(src), "--rules", rules, "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert [p.read_text() for p in tmp_path.glob("aster_state.json.bak-*")] == ["{}"]


def test_unknown_formats_get_a_clear_error_and_nothing_is_written(tmp_path):
    for doc, words in [([1, 2], "expected a JSON object"), ({"foo": 1}, "neither 'live_trades'"),
                       ({"live_trades": {"X": {"entry": "abc", "sl": 1, "side": "BUY", "qty": 1}}}, "not a number"),
                       ({"schema_version": 1, "open_trades": {}}, "already a mraster state")]:
        src = tmp_path / "in.json"
        write(src, doc)
        result = mraster("import-legacy", "--state", str(src), "--rules", rules_file(tmp_path), cwd=tmp_path)
        assert result.returncode == 2 and words in result.stderr, (doc, result.stderr)
        assert not (tmp_path / "aster_state.json").exists()
    (tmp_path / "bad.json").write_text("{not json")
    result = mraster("import-legacy", "--state", str(tmp_path / "bad.json"), cwd=tmp_path)
    assert result.returncode == 2 and "not JSON" in result.stderr


def test_the_original_learned_policy_is_refused_with_the_reason_and_nothing_is_written(tmp_path):
    src, pol = tmp_path / "legacy.json", tmp_path / "old_policy.json"
    write(src, LEGACY_STATE)
    write(pol, LEGACY_STATE["policy"])
    result = mraster("import-legacy", "--state", str(src), "--policy", str(pol), "--rules", rules_file(tmp_path),
                     cwd=tmp_path)
    assert result.returncode == 2 and "cannot be carried over" in result.stderr
    assert not (tmp_path / "aster_state.json").exists() and not (tmp_path / "aster_policy.json").exists()


def test_a_mraster_policy_file_is_imported_as_it_is(tmp_path):
    from ml_policy import BanditPolicy, PolicyConfig
    from ml_policy.persistence import save
    mine = tmp_path / "export" / "aster_policy.json"
    mine.parent.mkdir()
    policy, _ = BanditPolicy.load_or_create(mine, PolicyConfig())
    save(policy, mine)
    src = tmp_path / "legacy.json"
    write(src, LEGACY_STATE)
    out = tmp_path / "new" / "aster_state.json"
    out.parent.mkdir()
    result = mraster("import-legacy", "--state", str(src), "--policy", str(mine), "--out", str(out),
                     "--rules", rules_file(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((out.parent / "aster_policy.json").read_text()) == json.loads(mine.read_text())


def test_symbols_the_venue_does_not_list_or_an_unreachable_venue_are_refused(tmp_path):
    src = tmp_path / "legacy.json"
    write(src, LEGACY_STATE)
    bare = tmp_path / "bare.json"
    bare.write_text(BINANCE_2021.read_text())                        # no CAKEUSDT
    result = mraster("import-legacy", "--state", str(src), "--rules", str(bare), cwd=tmp_path)
    assert result.returncode == 2 and "does not list CAKEUSDT" in result.stderr
    result = mraster("import-legacy", "--state", str(src), cwd=tmp_path,
                     env={"ASTER_EXCHANGE_BASE": "http://127.0.0.1:9", "ASTER_HTTP_RETRIES": "0"})
    assert result.returncode == 2 and "could not be read from the venue" in result.stderr and "--rules" in result.stderr
    assert not (tmp_path / "aster_state.json").exists()
