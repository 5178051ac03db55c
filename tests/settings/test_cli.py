"""The `mraster` command line, run as a real child process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mraster.settings.docs import README_BEGIN, README_END, markdown_table

ROOT = Path(__file__).resolve().parents[2]


def mraster(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ASTER_", "FAST_TP", "FASTTP"))}
    base["PYTHONPATH"] = str(ROOT)
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "commands.main", *args], capture_output=True, text=True,
                          env=base, cwd=cwd or ROOT, timeout=60)


def test_help_lists_every_subcommand():
    out = mraster("--help").stdout
    for name in ("dashboard", "bot", "guard", "paper-exchange", "config", "policy", "trial", "import-legacy"):
        assert name in out, name


@pytest.mark.parametrize("command", ["dashboard", "bot", "guard", "paper-exchange", "config", "config show",
                                     "config check", "config schema"])
def test_every_subcommand_has_help_with_options(command):
    result = mraster(*command.split(), "--help")
    assert result.returncode == 0
    assert "--set NAME=VALUE" in result.stdout or command == "config"


def test_config_check_exits_2_naming_the_variable_and_range(tmp_path):
    result = mraster("config", "check", env={"ASTER_LEVERAGE": "abc"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "ASTER_LEVERAGE" in result.stderr and "from 1 to 125" in result.stderr


def test_config_check_ok(tmp_path):
    result = mraster("config", "check", cwd=tmp_path)
    assert result.returncode == 0 and "configuration OK" in result.stdout


def test_config_show_masks_secrets_and_names_sources(tmp_path):
    (tmp_path / "dashboard_config.json").write_text('{"ASTER_LEVERAGE": 4}')
    result = mraster("config", "show", "--set", "ASTER_KLINES=100", env={"ASTER_API_SECRET": "s3cr3t"},
                     cwd=tmp_path)
    assert result.returncode == 0
    assert "s3cr3t" not in result.stdout + result.stderr
    lines = {line.split("=")[0].strip(): line for line in result.stdout.splitlines() if "=" in line}
    assert "(config file)" in lines["ASTER_LEVERAGE"]
    assert "(cli)" in lines["ASTER_KLINES"]
    assert "********" in lines["ASTER_API_SECRET"] and "(environment)" in lines["ASTER_API_SECRET"]
    data = json.loads(mraster("config", "show", "--json", env={"ASTER_API_SECRET": "s3cr3t"},
                              cwd=tmp_path).stdout)
    row = next(r for r in data["settings"] if r["name"] == "ASTER_API_SECRET")
    assert row["value"] == "********" and row["source"] == "environment"


def test_broken_config_file_exits_2_with_position(tmp_path):
    (tmp_path / "dashboard_config.json").write_text('{"ASTER_LEVERAGE": }')
    result = mraster("config", "check", cwd=tmp_path)
    assert result.returncode == 2 and "line 1, column 20" in result.stderr


def test_bad_set_flag_is_a_config_error(tmp_path):
    result = mraster("config", "check", "--set", "NOEQUALS", cwd=tmp_path)
    assert result.returncode == 2 and "NAME=VALUE" in result.stderr


def test_schema_export_is_json():
    data = json.loads(mraster("config", "schema").stdout)
    assert any(f["name"] == "ASTER_LEVERAGE" and f["max"] == 125 for f in data["fields"])
    assert data["engines"]["scanner"]["flat_settings"] is True and data["engines"]["scanner"]["module"] == "bot"


def test_config_show_lists_instances_and_one_instance_with_its_sources(tmp_path):
    (tmp_path / "engines.json").write_text(json.dumps({"instances": [
        {"name": "scanner", "kind": "scanner"},
        {"name": "scan2", "kind": "scanner", "accounts": {"account": "B"}, "settings": {"ASTER_LEVERAGE": 3}}]}))
    flat = mraster("config", "show", cwd=tmp_path)
    assert flat.returncode == 0 and "[engines]" in flat.stdout and "account=B" in flat.stdout
    one = json.loads(mraster("config", "show", "--instance", "scan2", "--json", cwd=tmp_path,
                             env={"MRASTER_SCAN2__ASTER_MAX_OPEN_GLOBAL": "2"}).stdout)
    assert one["accounts"] == {"account": "B"} and one["guard"] == "protect"
    rows = {r["name"]: r for r in one["settings"]}
    assert rows["ASTER_LEVERAGE"]["value"] == 3 and rows["ASTER_LEVERAGE"]["source"] == "engines.json"
    assert rows["ASTER_MAX_OPEN_GLOBAL"]["source"] == "environment MRASTER_SCAN2__ASTER_MAX_OPEN_GLOBAL"
    missing = mraster("config", "show", "--instance", "nope", cwd=tmp_path)
    assert missing.returncode == 2 and "instances: scanner, scan2" in missing.stderr


def test_readme_table_matches_schema():
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(README_BEGIN) + len(README_BEGIN):readme.index(README_END)].strip()
    assert block == markdown_table(), "README config table is stale: run `python -m mraster.settings.regen_readme`"


@pytest.mark.parametrize("module,command", [("bot", "bot"), ("guard", "guard"), ("dashboard", "dashboard"),
                                            ("paper", "paper-exchange"), ("trial", "trial"), ("recorder", "record"),
                                            ("backtest", "backtest"), ("commands", "")])
def test_python_dash_m_entry_points(module, command):
    base = {k: v for k, v in os.environ.items()}
    base["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, env=base,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0 and f"mraster {command}".strip() in result.stdout
