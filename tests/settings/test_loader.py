"""Settings: precedence, validation messages, secrets, schema export."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from mraster.logs import setup_logging, settings_secrets, get_logger
from mraster.settings import (
    FIELDS, FIELDS_BY_ENV, GROUPS, SettingsError, default_settings, load_settings, validate_updates,
)
from mraster.settings.docs import schema_json
from mraster.settings.files import write_config_values, write_dotenv_values

SEED_DEFAULTS = {  # the core seed's tables, verbatim
    "ASTER_EXCHANGE_BASE": "https://fapi.asterdex.com", "ASTER_PAPER": False, "ASTER_RUN_ONCE": False,
    "ASTER_HTTP_RETRIES": 2, "ASTER_HTTP_BACKOFF": 0.6, "ASTER_HTTP_TIMEOUT": 20, "ASTER_KLINE_CACHE_SEC": 45,
    "ASTER_FUNDING_FILTER_ENABLED": True, "ASTER_FUNDING_MAX_LONG": 0.0010, "ASTER_FUNDING_MAX_SHORT": 0.0010,
    "ASTER_RECV_WINDOW": 10000, "ASTER_WORKING_TYPE": "MARK_PRICE", "ASTER_QUOTE": "USDT",
    "ASTER_EXCLUDE_SYMBOLS": ("AMZNUSDT", "APRUSDT"), "ASTER_UNIVERSE_MAX": 40, "ASTER_UNIVERSE_ROTATE": False,
    "ASTER_MIN_QUOTE_VOL_USDT": 75000, "ASTER_INTERVAL": "5m", "ASTER_HTF_INTERVAL": "30m", "ASTER_KLINES": 360,
    "ASTER_RSI_BUY_MIN": 51, "ASTER_RSI_SELL_MAX": 49, "ASTER_ALLOW_TREND_ALIGN": True,
    "ASTER_ALIGN_RSI_PAD": 1.5, "ASTER_SPREAD_BPS_MAX": 0.009, "ASTER_WICKINESS_MAX": 0.985,
    "ASTER_MIN_EDGE_R": 0.08, "ASTER_DEFAULT_NOTIONAL": 120, "ASTER_RISK_PER_TRADE": 0.007, "ASTER_LEVERAGE": 3,
    "ASTER_EQUITY_FRACTION": 0.25, "ASTER_MIN_NOTIONAL_USDT": 5, "ASTER_MAX_NOTIONAL_USDT": 300,
    "ASTER_SIZE_MULT": 1.0, "ASTER_SIZE_MULT_S": 1.0, "ASTER_SIZE_MULT_M": 1.4, "ASTER_SIZE_MULT_L": 1.9,
    "ASTER_SL_ATR_MULT": 1.3, "ASTER_TP_ATR_MULT": 2.0, "FAST_TP_ENABLED": True, "FASTTP_MIN_R": 0.25,
    "FAST_TP_RET1": -0.0010, "FAST_TP_RET3": -0.0020, "FASTTP_SNAP_ATR": 0.25, "FASTTP_COOLDOWN_S": 45,
    "ASTER_MAX_OPEN_GLOBAL": 2, "ASTER_MAX_OPEN_PER_SYMBOL": 1, "ASTER_STATE_FILE": "aster_state.json",
    "ASTER_LOOP_SLEEP": 20, "ASTER_BANDIT_ENABLED": True, "ASTER_HISTORY_MAX": 250,
    "ASTER_API_KEY": "", "ASTER_API_SECRET": "",
}


def load(tmp: Path, env=None, cli=None):
    return load_settings(env=env or {}, cli=cli or {}, cwd=tmp)


def test_every_seed_variable_exists_with_its_default():
    s = default_settings()
    for name, default in SEED_DEFAULTS.items():
        assert name in FIELDS_BY_ENV, name
        assert s.value(name) == default, name
    assert "ASTER_INCLUDE_SYMBOLS" in FIELDS_BY_ENV and s.include_symbols[0] == "BTCUSDT"
    assert "ASTER_LOGLEVEL" in FIELDS_BY_ENV


def test_every_field_is_fully_described():
    for f in FIELDS:
        assert f.group in GROUPS, f.env
        assert f.desc and f.desc.endswith("."), f.env
        assert f.env.startswith(("ASTER_", "FAST_TP", "FASTTP")), f.env
        if f.kind in ("int", "float"):
            assert f.min is not None, f.env
    assert {f.group for f in FIELDS} == set(GROUPS)


def test_precedence_across_all_five_sources(tmp_path: Path):
    (tmp_path / "dashboard_config.json").write_text(json.dumps(
        {"ASTER_LEVERAGE": 4, "ASTER_LOOP_SLEEP": 7, "ASTER_KLINES": 100, "ASTER_UNIVERSE_MAX": 11}))
    (tmp_path / ".env").write_text("ASTER_LOOP_SLEEP=8\nASTER_KLINES=200\nASTER_UNIVERSE_MAX=12\n")
    os.chmod(tmp_path / ".env", 0o600)
    loaded = load(tmp_path, env={"ASTER_KLINES": "300", "ASTER_UNIVERSE_MAX": "13"},
                  cli={"ASTER_UNIVERSE_MAX": "14"})
    s = loaded.settings
    assert (s.rsi_buy_min, loaded.source_of("ASTER_RSI_BUY_MIN")) == (51.0, "default")
    assert (s.leverage, loaded.source_of("ASTER_LEVERAGE")) == (4, "config file")
    assert (s.loop_sleep, loaded.source_of("ASTER_LOOP_SLEEP")) == (8.0, ".env")
    assert (s.klines, loaded.source_of("ASTER_KLINES")) == (300, "environment")
    assert (s.universe_max, loaded.source_of("ASTER_UNIVERSE_MAX")) == (14, "cli")


def test_config_file_path_can_be_overridden(tmp_path: Path):
    other = tmp_path / "elsewhere.json"
    other.write_text('{"ASTER_LEVERAGE": 5}')
    loaded = load(tmp_path, env={"ASTER_CONFIG_FILE": str(other)})
    assert loaded.settings.leverage == 5 and loaded.config_file == other


@pytest.mark.parametrize("name,value,needle", [
    ("ASTER_LEVERAGE", "abc", "an integer from 1 to 125"),
    ("ASTER_LEVERAGE", "0", "below the minimum"),
    ("ASTER_RISK_PER_TRADE", "0.5", "above the maximum"),
    ("ASTER_PAPER", "maybe", "true or false"),
    ("ASTER_WORKING_TYPE", "LAST", "one of MARK_PRICE, CONTRACT_PRICE"),
    ("ASTER_INTERVAL", "7m", "one of 1m, 3m, 5m"),
    ("ASTER_INCLUDE_SYMBOLS", "BTC-USDT", "not a symbol"),
    ("ASTER_EXCHANGE_BASE", "fapi.asterdex.com", "URL"),
    ("ASTER_HTTP_TIMEOUT", "nan", "a number"),
])
def test_bad_value_names_variable_value_source_and_allowed(tmp_path, name, value, needle):
    with pytest.raises(SettingsError) as err:
        load(tmp_path, env={name: value})
    text = str(err.value)
    assert name in text and repr(value) in text and "environment" in text and needle in text


def test_bad_value_in_config_file_names_the_file_source(tmp_path):
    (tmp_path / "dashboard_config.json").write_text('{"ASTER_KLINES": 5}')
    with pytest.raises(SettingsError) as err:
        load(tmp_path)
    assert "ASTER_KLINES=5 from config file" in str(err.value) and "from 30 to 1500" in str(err.value)


def test_all_problems_are_reported_at_once(tmp_path):
    with pytest.raises(SettingsError) as err:
        load(tmp_path, env={"ASTER_LEVERAGE": "x", "ASTER_KLINES": "y"})
    assert len(err.value.problems) == 2


def test_broken_json_gives_file_line_and_column(tmp_path):
    path = tmp_path / "dashboard_config.json"
    path.write_text('{\n  "ASTER_LEVERAGE": 3,\n  "ASTER_KLINES": ,\n}\n')
    with pytest.raises(SettingsError) as err:
        load(tmp_path)
    text = str(err.value)
    assert str(path) in text and "line 3" in text and "column 19" in text


def test_config_file_must_be_an_object(tmp_path):
    (tmp_path / "dashboard_config.json").write_text("[1, 2]")
    with pytest.raises(SettingsError, match="JSON object"):
        load(tmp_path)


def test_unknown_keys_warn_with_nearest_name(tmp_path):
    (tmp_path / "dashboard_config.json").write_text('{"ASTER_LEVERGE": 3, "_comment": "ok"}')
    loaded = load(tmp_path, env={"ASTER_RSI_BUYMIN": "50"})
    text = " ".join(loaded.warnings)
    assert "ASTER_LEVERGE (did you mean ASTER_LEVERAGE?)" in text
    assert "ASTER_RSI_BUYMIN (did you mean ASTER_RSI_BUY_MIN?)" in text
    assert "_comment" not in text


def test_secrets_are_refused_from_the_config_file(tmp_path):
    (tmp_path / "dashboard_config.json").write_text('{"ASTER_API_SECRET": "abc12345"}')
    with pytest.raises(SettingsError) as err:
        load(tmp_path)
    text = str(err.value)
    assert ".env" in text and "environment" in text and "abc12345" not in text


def test_secrets_come_from_dotenv_and_never_show(tmp_path):
    write_dotenv_values(tmp_path / ".env", {"ASTER_API_SECRET": "s3cr3t-value", "ASTER_API_KEY": "k3y-value"})
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    loaded = load(tmp_path)
    assert loaded.settings.api_secret == "s3cr3t-value"
    public = json.dumps(loaded.public_values())
    assert "s3cr3t-value" not in public and "k3y-value" not in public
    assert "s3cr3t-value" not in repr(loaded.settings)


def test_cross_field_rules(tmp_path):
    with pytest.raises(SettingsError, match="ASTER_MIN_NOTIONAL_USDT"):
        load(tmp_path, env={"ASTER_MIN_NOTIONAL_USDT": "500"})
    with pytest.raises(SettingsError, match="ASTER_PAPER_FEED"):
        load(tmp_path, env={"ASTER_PAPER_FEED": "replay:"})


def test_validate_updates_reports_each_field(tmp_path):
    loaded = load(tmp_path)
    errors = validate_updates(loaded, {"ASTER_LEVERAGE": 500, "ASTER_KLINES": 100, "ASTER_NOPE": 1})
    assert set(errors) == {"ASTER_LEVERAGE", "ASTER_NOPE"}
    assert validate_updates(loaded, {"ASTER_LEVERAGE": 5}) == {}


def test_write_config_values_is_atomic_and_refuses_secrets(tmp_path):
    path = tmp_path / "dashboard_config.json"
    path.write_text('{"_comment": "keep me", "ASTER_LEVERAGE": 2}')
    write_config_values(path, {"ASTER_LEVERAGE": 4, "ASTER_INCLUDE_SYMBOLS": ("BTCUSDT", "ETHUSDT")})
    data = json.loads(path.read_text())
    assert data == {"_comment": "keep me", "ASTER_LEVERAGE": 4, "ASTER_INCLUDE_SYMBOLS": "BTCUSDT,ETHUSDT"}
    with pytest.raises(SettingsError):
        write_config_values(path, {"ASTER_API_SECRET": "x"})
    assert json.loads(path.read_text()) == data
    assert [p.name for p in tmp_path.iterdir()] == ["dashboard_config.json"]  # no temp files left


def test_schema_export_round_trips():
    schema = schema_json()
    assert schema["version"] == 1
    by_name = {f["name"]: f for f in schema["fields"]}
    assert set(by_name) == set(FIELDS_BY_ENV)
    for f in FIELDS:
        exported = json.loads(json.dumps(by_name[f.env]))
        assert exported["group"] == f.group and exported["live"] == f.live and exported["secret"] == f.secret
        if not f.secret:  # the exported default parses back to the same typed default
            assert f.parse(exported["default"], "schema") == f.parse(f.default, "default")
    spread = by_name["ASTER_SPREAD_BPS_MAX"]
    assert spread["unit"] == "fraction of mid" and "0.9 %" in spread["description"]


def test_secrets_never_reach_log_lines(tmp_path, capsys):
    s = default_settings().with_values(api_secret="zz-secret-zz", api_key="kk-key-kk")
    setup_logging("test", "INFO", tmp_path, secrets=settings_secrets(s))
    get_logger("t").info("x", f"connecting with {s.api_secret}", key=s.api_key)
    logging.getLogger().handlers[0].flush()
    out = capsys.readouterr().out + (tmp_path / "test.jsonl").read_text()
    assert "zz-secret-zz" not in out and "kk-key-kk" not in out and "***" in out
    logging.getLogger().handlers.clear()
