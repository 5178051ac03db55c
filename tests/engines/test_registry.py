"""Engine kinds and instances: declared as data, validated with readable reasons, settings resolved as
defaults < engines.json < MRASTER_<INSTANCE>__<NAME>, the file written atomically and kept aside when bad."""
from __future__ import annotations

import json

import pytest

from mraster.engines import (
    EngineInstance, EngineKind, InstanceError, all_kinds, default_instances, env_name, get_kind,
    instance_settings, instances_file, load_instances, parse_instances, resolve_flat, save_instances,
)
from mraster.settings.loader import default_settings
from mraster.settings.schema import FieldSpec
from mraster.storage.atomic import CorruptFileError

TOY = EngineKind(name="toy", title="Toy", module="toy", description="test kind",
                 settings=(FieldSpec("LEVERAGE", "int", 2, "leverage", "toy", min=1, max=20),
                           FieldSpec("CAPITAL_USDT", "float", 100.0, "capital", "toy", min=1.0)),
                 account_roles=("long", "short"), guard_default="leave")


def test_the_scanner_is_a_registered_kind_of_module_bot():
    scanner = get_kind("scanner")
    assert scanner.module == "bot" and scanner.flat_settings and "scanner" in all_kinds()
    with pytest.raises(KeyError, match="unknown engine kind"):
        get_kind("nope")


def test_kinds_validate_their_declaration():
    with pytest.raises(ValueError, match="repeat a role"):
        EngineKind(name="bad", title="", module="m", description="", account_roles=("a", "a"))
    with pytest.raises(ValueError, match="instance"):
        EngineKind(name="bad", title="", module="m", description="", status_file="shared.json")


def test_no_file_means_the_default_scanner(tmp_path):
    assert load_instances(tmp_path / "engines.json") == default_instances()
    assert default_instances()[0].account == "main"


def test_round_trip_and_validation(tmp_path):
    known = {"toy": TOY, **all_kinds()}
    path = tmp_path / "engines.json"
    items = parse_instances({"instances": [
        {"name": "scanner", "kind": "scanner"},
        {"name": "dn1", "kind": "toy", "accounts": {"long": "A", "short": "B"}, "settings": {"LEVERAGE": "3"}}]},
        known)
    assert items[1].settings == (("LEVERAGE", 3),) and items[1].account_for("short") == "B"
    assert items[1].guard_scope(TOY) == "leave"
    with pytest.raises(InstanceError, match="used twice"):
        parse_instances({"instances": [{"name": "a", "kind": "scanner"}, {"name": "a", "kind": "scanner"}]})
    with pytest.raises(InstanceError, match="exactly the roles long, short"):
        parse_instances({"instances": [{"name": "x", "kind": "toy", "accounts": {"account": "A"}}]}, known)
    with pytest.raises(InstanceError, match="its own account"):
        parse_instances({"instances": [{"name": "x", "kind": "toy", "accounts": {"long": "A", "short": "A"}}]},
                        known)
    with pytest.raises(InstanceError, match="LEVERAGE=50"):
        parse_instances({"instances": [{"name": "x", "kind": "toy", "accounts": {"long": "A", "short": "B"},
                                        "settings": {"LEVERAGE": 50}}]}, known)
    with pytest.raises(InstanceError, match="not a setting of scanner"):
        parse_instances({"instances": [{"name": "s2", "kind": "scanner", "settings": {"ASTER_API_KEY": "k"}}]})
    scanners = [EngineInstance("scanner", "scanner"),
                EngineInstance("scan2", "scanner", (("account", "B"),), (("ASTER_LEVERAGE", 3),))]
    save_instances(path, scanners)
    assert load_instances(path) == scanners


def test_a_corrupt_file_is_kept_aside_and_reported(tmp_path):
    path = instances_file(tmp_path / "dashboard_config.json")
    path.write_text('{"instances": [{"name": "Bad!", "kind": "scanner"}]}')
    with pytest.raises(CorruptFileError):
        load_instances(path)
    kept = list(tmp_path.glob("engines.json.corrupt-*"))
    assert len(kept) == 1 and "Bad!" in kept[0].read_text() and not path.exists()


def test_settings_precedence_defaults_file_environment():
    inst = EngineInstance("dn1", "toy", (("long", "A"), ("short", "B")), (("LEVERAGE", 3),))
    assert instance_settings(TOY, inst, {}) == {"LEVERAGE": 3, "CAPITAL_USDT": 100.0}
    env = {env_name("dn1", "LEVERAGE"): "5", "LEVERAGE": "19", env_name("dn2", "CAPITAL_USDT"): "7"}
    assert instance_settings(TOY, inst, env) == {"LEVERAGE": 5, "CAPITAL_USDT": 100.0}, \
        "only this instance's MRASTER_DN1__ names apply; a bare LEVERAGE is never read"
    with pytest.raises(ValueError, match="MRASTER_DN1__LEVERAGE"):
        instance_settings(TOY, inst, {"MRASTER_DN1__LEVERAGE": "0"})


def test_a_second_scanner_gets_its_overrides_and_its_own_state_file():
    base = default_settings()
    scanner = get_kind("scanner")
    same = resolve_flat(base, scanner, default_instances()[0], {})
    assert same == base
    scan2 = EngineInstance("scan2", "scanner", (("account", "B"),), (("ASTER_LEVERAGE", 3),))
    s2 = resolve_flat(base, scanner, scan2, {env_name("scan2", "ASTER_INCLUDE_SYMBOLS"): "ETHUSDT"})
    assert s2.leverage == 3 and s2.state_file != base.state_file and "scan2" in str(s2.state_file)
    assert json.dumps(list(s2.include_symbols)) == '["ETHUSDT"]'


def test_an_instance_process_resolves_its_account_settings_and_files(tmp_path):
    from mraster.engines import InstanceError, resolve_instance
    save_instances(tmp_path / "engines.json", [
        EngineInstance("scanner", "scanner"),
        EngineInstance("scan2", "scanner", (("account", "B"),), (("ASTER_LEVERAGE", 4),))])
    env = {"ASTER_PAPER": "true", "ASTER_ACCOUNTS": "B", "MRASTER_INSTANCE": "scan2"}
    resolved = resolve_instance(environ=env, cwd=tmp_path)
    assert resolved.instance.name == "scan2" and resolved.settings.leverage == 4
    assert resolved.settings.api_key == "paper-b" and resolved.status_path.name == "scan2.status.json"
    main = resolve_instance("scanner", environ=env, cwd=tmp_path)
    assert main.settings.api_key != "paper-b" and main.settings.leverage != 4
    with pytest.raises(InstanceError, match="account B is not declared"):
        resolve_instance("scan2", environ={"ASTER_PAPER": "true"}, cwd=tmp_path)
    with pytest.raises(InstanceError, match="no engine instance 'nope'"):
        resolve_instance("nope", environ=env, cwd=tmp_path)


def test_an_instance_may_not_take_the_name_of_a_control_center_process():
    with pytest.raises(InstanceError, match="taken by a process"):
        parse_instances({"instances": [{"name": "guard", "kind": "scanner"}]})


def test_the_recorder_kind_trades_nothing_and_needs_no_account(tmp_path):
    from mraster.engines import exclusive_conflicts, resolve_instance
    from mraster.engines.kinds.recorder import MAX_SYMBOLS
    rec = get_kind("recorder")
    assert rec.module == "recorder" and rec.account_roles == () and rec.trades is False and rec.page == "data"
    assert rec.exclusive == ("SYMBOLS",) and [f.env for f in rec.settings] == ["SYMBOLS", "POLL_TIME", "DELETE_EXISTING"]
    items = parse_instances({"instances": [{"name": "rec1", "kind": "recorder", "settings": {"SYMBOLS": "btcusdt"}},
                                           {"name": "rec2", "kind": "recorder", "accounts": {}}]})
    assert items[0].accounts == () and items[0].account == "" and items[0].settings == (("SYMBOLS", ("BTCUSDT",)),)
    assert instance_settings(rec, items[1], {}) == {"SYMBOLS": ("BTCUSDT",), "POLL_TIME": 0.0, "DELETE_EXISTING": False}
    with pytest.raises(InstanceError, match="takes no accounts"):
        parse_instances({"instances": [{"name": "rec1", "kind": "recorder", "accounts": {"account": "main"}}]})
    with pytest.raises(InstanceError, match="fewer than 1"):
        parse_instances({"instances": [{"name": "rec1", "kind": "recorder", "settings": {"SYMBOLS": []}}]})
    too_many = ",".join(f"S{i}USDT" for i in range(MAX_SYMBOLS + 1))
    with pytest.raises(InstanceError, match=f"more than {MAX_SYMBOLS}"):
        parse_instances({"instances": [{"name": "rec1", "kind": "recorder", "settings": {"SYMBOLS": too_many}}]})
    # both default to BTCUSDT: the second may not run beside the first; a disabled one takes nothing
    assert exclusive_conflicts(items[1], items) == ["SYMBOLS BTCUSDT is already taken by recorder instance rec1"]
    off = EngineInstance("rec1", "recorder", (), (("SYMBOLS", ("BTCUSDT",)),), enabled=False)
    assert exclusive_conflicts(items[1], [off, items[1]]) == []
    assert exclusive_conflicts(items[1], items, environ={"MRASTER_REC2__SYMBOLS": "ETHUSDT"}) == []
    assert exclusive_conflicts(default_instances()[0], items) == []          # kinds without exclusive settings
    # the process resolves without any account, in live mode too (market streams are public)
    save_instances(tmp_path / "engines.json", items[:1])
    resolved = resolve_instance("rec1", environ={"ASTER_PAPER": "false"}, cwd=tmp_path)
    assert resolved.by_role == {} and resolved.values["SYMBOLS"] == ("BTCUSDT",)
    assert resolved.status_path.name == "rec1.status.json"


def test_a_kind_that_trades_needs_an_account_role_and_exclusive_names_a_setting():
    with pytest.raises(ValueError, match="trades needs at least one account role"):
        EngineKind(name="bad", title="", module="m", description="", account_roles=())
    EngineKind(name="quiet", title="", module="m", description="", account_roles=(), trades=False)
    with pytest.raises(ValueError, match="exclusive setting 'X'"):
        EngineKind(name="bad", title="", module="m", description="", exclusive=("X",))
