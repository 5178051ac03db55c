"""The engine kind: seed 004's names and defaults, validation, per-instance scope, the seed's warnings."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mraster.engines import InstanceError, all_kinds, instance_settings, parse_instance
from mraster.engines.kinds.deltaneutral import KIND, warnings
from mraster.settings.schema import FieldError

SEED = {"CAPITAL_USDT": 100.0, "LEVERAGE": 15, "TRADING_PAIRS": ("BTCUSDT",), "POSITION_HOLD_TIME_MIN": 90.0,
        "MAX_POSITION_SIZE_PCT": 1.5, "DAILY_VOLUME_TARGET": 15000.0, "STOP_LOSS_PCT": 1.0,
        "MAX_PNL_DRIFT_PCT": 0.8, "WALLET_ADDRESS": ""}


def test_registered_with_the_seed_names_and_defaults():
    kind = all_kinds()["deltaneutral"]
    assert kind is not None and kind.module == "deltaneutral" and kind.page == "operator"
    assert kind.guard_default == "leave" and kind.account_roles == ("account",)
    defaults = kind.defaults()
    assert {k: defaults[k] for k in SEED} == SEED


@pytest.mark.parametrize("raw", ['["BTCUSDT", "ETHUSDT"]', "BTCUSDT,ETHUSDT", ["btcusdt", "ETHUSDT"]])
def test_trading_pairs_as_json_list_or_comma_list(raw):
    assert KIND.field("TRADING_PAIRS").parse(raw, "test") == ("BTCUSDT", "ETHUSDT")


@pytest.mark.parametrize("name,raw", [("LEVERAGE", "0"), ("LEVERAGE", "200"), ("CAPITAL_USDT", "-5"),
                                      ("TRADING_PAIRS", '["BTC USDT"]'), ("TRADING_PAIRS", "[not json"),
                                      ("STOP_LOSS_PCT", "abc")])
def test_bad_values_are_refused_naming_the_setting(name, raw):
    with pytest.raises(FieldError, match=name):
        KIND.field(name).parse(raw, "test")


def test_bare_leverage_is_scoped_to_the_instance():
    inst = parse_instance({"name": "dn1", "kind": "deltaneutral", "settings": {"LEVERAGE": 5}})
    env = {"ASTER_LEVERAGE": "3", "MRASTER_DN1__POSITION_HOLD_TIME_MIN": "120", "LEVERAGE": "50"}
    values = instance_settings(KIND, inst, env)
    assert values["LEVERAGE"] == 5 and values["POSITION_HOLD_TIME_MIN"] == 120.0
    with pytest.raises(InstanceError, match="ASTER_LEVERAGE is not a setting of deltaneutral"):
        parse_instance({"name": "dn1", "kind": "deltaneutral", "settings": {"ASTER_LEVERAGE": 5}})


def test_the_seeds_warnings():
    assert len(warnings(KIND.defaults())) == 1 and "6.7 %" in warnings(KIND.defaults())[0]
    w = warnings({"LEVERAGE": 5, "POSITION_HOLD_TIME_MIN": 60})
    assert len(w) == 1 and "10x hold-time multiplier" in w[0]
    assert warnings({"LEVERAGE": 10, "POSITION_HOLD_TIME_MIN": 90}) == []


def test_engines_json_round_trip(tmp_path: Path):
    from mraster.engines import load_instances, save_instances
    inst = parse_instance({"name": "dn1", "kind": "deltaneutral", "settings": {"TRADING_PAIRS": '["ETHUSDT"]'}})
    save_instances(tmp_path / "engines.json", [inst])
    [back] = load_instances(tmp_path / "engines.json")
    assert dict(back.settings)["TRADING_PAIRS"] == ("ETHUSDT",)
    assert json.loads((tmp_path / "engines.json").read_text())["instances"][0]["settings"]["TRADING_PAIRS"] == ["ETHUSDT"]


def test_a_wrong_instance_starts_nothing(tmp_path: Path, monkeypatch, capsys):
    from commands.main import main
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASTER_CONFIG_FILE", str(tmp_path / "dashboard_config.json"))
    monkeypatch.setenv("ASTER_DOTENV_FILE", str(tmp_path / ".env"))
    monkeypatch.setenv("ASTER_PAPER", "true")
    monkeypatch.setenv("ASTER_PAPER_URL", "http://127.0.0.1:9")
    assert main(["deltaneutral", "--instance", "nope"]) == 2
    assert "no engine instance 'nope'" in capsys.readouterr().err
    (tmp_path / "engines.json").write_text(json.dumps({"instances": [{"name": "scan2", "kind": "scanner"}]}))
    assert main(["deltaneutral", "--instance", "scan2"]) == 2
    assert "not a deltaneutral operator" in capsys.readouterr().err
    assert not (tmp_path / "run" / "paper.pid").exists()              # no paper exchange was started
