"""Path settings from dashboard_config.json stay inside its directory; operator-only settings stay out
of it (issue 12 item 15). The dashboard's side is in tests/dashboard/test_security_gaps.py."""
from __future__ import annotations

import json

import pytest

from mraster.settings import SettingsError, load_settings
from mraster.settings.confine import PACKAGE_DATA, outside_root


def env_for(tmp_path, **extra):
    return {"ASTER_CONFIG_FILE": str(tmp_path / "dashboard_config.json"),
            "ASTER_DOTENV_FILE": str(tmp_path / ".env"), **extra}


def test_outside_root_follows_dots_absolute_paths_and_symlinks(tmp_path):
    root = tmp_path / "work"
    root.mkdir()
    (root / "inner").symlink_to(tmp_path)
    assert not outside_root("logs", root) and not outside_root(str(root / "a" / "b"), root)
    assert not outside_root("a/../b", root)
    assert outside_root("../x", root) and outside_root("/etc", root) and outside_root("inner/x", root)
    assert outside_root(str(PACKAGE_DATA / "replay"), root)
    assert not outside_root(str(PACKAGE_DATA / "replay"), root, read_only_data=True)


def test_config_file_paths_inside_are_fine_outside_are_refused_with_the_way_out(tmp_path):
    (tmp_path / "dashboard_config.json").write_text(json.dumps({"ASTER_JOURNAL_FILE": "data/j.sqlite"}))
    assert load_settings(env=env_for(tmp_path), cwd=tmp_path).settings.journal_file == "data/j.sqlite"
    (tmp_path / "dashboard_config.json").write_text(json.dumps({"ASTER_PAPER_DB": "../p.sqlite",
                                                                "ASTER_PAPER_FEED": "replay:/srv/data"}))
    with pytest.raises(SettingsError) as err:
        load_settings(env=env_for(tmp_path), cwd=tmp_path)
    assert len(err.value.problems) == 2
    assert all("must stay inside" in p and "in .env or the environment" in p for p in err.value.problems)


def test_the_environment_wins_and_is_not_confined(tmp_path):
    (tmp_path / "dashboard_config.json").write_text(json.dumps({"ASTER_RUN_DIR": "/etc/run"}))
    loaded = load_settings(env=env_for(tmp_path, ASTER_RUN_DIR="/var/tmp/mraster-run"), cwd=tmp_path)
    assert loaded.settings.run_dir == "/var/tmp/mraster-run"


def test_operator_only_settings_are_refused_in_the_config_file(tmp_path):
    (tmp_path / "dashboard_config.json").write_text(json.dumps({"ASTER_DASHBOARD_ALLOW_PLAIN_HTTP": True}))
    with pytest.raises(SettingsError) as err:
        load_settings(env=env_for(tmp_path), cwd=tmp_path)
    assert "only the operator sets it, in .env or the environment" in str(err.value)
    (tmp_path / "dashboard_config.json").write_text("{}")
    (tmp_path / ".env").write_text("ASTER_DASHBOARD_ALLOW_PLAIN_HTTP=true\n")
    (tmp_path / ".env").chmod(0o600)
    assert load_settings(env=env_for(tmp_path), cwd=tmp_path).settings.dashboard_allow_plain_http is True
