"""What one guard process guards: its account, files, state files and scope rule."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from guard.accounts import GuardSetup, SetupError
from mraster.settings import load_settings


def loaded(tmp_path: Path, instances: list | None, **env: str):
    (tmp_path / "dashboard_config.json").write_text("{}")
    if instances is not None:
        (tmp_path / "engines.json").write_text(json.dumps({"instances": instances}))
    return load_settings(env={"ASTER_CONFIG_FILE": str(tmp_path / "dashboard_config.json"), "ASTER_PAPER": "true",
                              "ASTER_DOTENV_FILE": str(tmp_path / "none.env"), "ASTER_RUN_DIR": str(tmp_path / "run"),
                              "ASTER_STATE_FILE": str(tmp_path / "aster_state.json"), **env})


def test_the_default_guard_is_todays(tmp_path, monkeypatch):
    monkeypatch.delenv("MRASTER_ACCOUNT", raising=False)
    setup = GuardSetup.build(loaded(tmp_path, None))
    assert setup.account == "main" and setup.log_source == "guard"
    assert setup.status_path == tmp_path / "run" / "guard_status.json"
    assert setup.state_paths == [tmp_path / "aster_state.json"]
    rule = setup.rule()
    assert rule.everything and rule.protects(None) and rule.protects("scanner")


def test_a_named_accounts_guard(tmp_path, monkeypatch):
    monkeypatch.setenv("ASTER_ACCOUNTS", "B,C")
    ld = loaded(tmp_path, [{"name": "scanner", "kind": "scanner"},
                           {"name": "scan2", "kind": "scanner", "accounts": {"account": "B"}},
                           {"name": "mk", "kind": "scanner", "accounts": {"account": "B"}, "guard": "leave"}],
                ASTER_GUARD_MANUAL="leave")
    setup = GuardSetup.build(ld, "b")
    assert setup.account == "B" and setup.settings.api_key == "paper-b" and setup.log_source == "guard-B"
    assert setup.status_path.name == "guard_status.B.json"
    assert setup.state_paths == [tmp_path / "aster_state.scan2.json", tmp_path / "aster_state.mk.json"]
    rule = setup.rule()
    assert rule.protects("scan2") and not rule.protects("mk") and not rule.protects(None)
    assert GuardSetup.build(ld, "C").state_paths == []          # no scanner there: no state file read
    assert not GuardSetup.build(ld, "B", "mk").rule().protects("scan2")
    with pytest.raises(SetupError, match="account Z is not declared"):
        GuardSetup.build(ld, "Z")
    with pytest.raises(SetupError, match="unknown instance"):
        GuardSetup.build(ld, "B", "nosuch")
