"""`mraster record --instance NAME` (how the dashboard runs a recorder instance): its settings from
engines.json through the kernel's instance resolution, its own CSV directory, status file and log; a
wrong instance, another kind, a symbol another enabled recorder has, or flags that engines.json decides
end it with exit 2 and the reason, before anything is opened. Plain `mraster record --symbols` is unchanged."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from commands.main import build_parser
from mraster.engines import EngineInstance, save_instances
from mraster.settings.loader import load_settings
from recorder.cli import instance_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def base(tmp_path):
    (tmp_path / "dashboard_config.json").write_text('{"ASTER_PAPER": true}')
    save_instances(tmp_path / "engines.json", [
        EngineInstance("scanner", "scanner"),
        EngineInstance("rec1", "recorder", (), (("SYMBOLS", ("BTCUSDT", "ETHUSDT")), ("POLL_TIME", 30.0))),
        EngineInstance("rec2", "recorder", (), (("SYMBOLS", ("SOLUSDT",)),))])
    return tmp_path


def record(base: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ASTER_CONFIG_FILE": str(base / "dashboard_config.json"),
           "ASTER_DOTENV_FILE": str(base / ".env")}
    return subprocess.run([sys.executable, "-m", "recorder", *args], cwd=base, env=env, capture_output=True,
                          text=True, timeout=60)


def test_an_instance_resolves_its_own_symbols_directory_and_status_file(base):
    loaded = load_settings(env={"ASTER_CONFIG_FILE": str(base / "dashboard_config.json")}, cwd=base)
    args = build_parser().parse_args(["record", "--instance", "rec1"])
    cfg = instance_config(loaded, args)
    assert cfg.symbols == ["BTCUSDT", "ETHUSDT"] and cfg.poll_time == 30.0 and not cfg.delete_existing
    assert cfg.log_dir == Path(loaded.settings.log_dir) / "recorders" / "rec1"
    assert cfg.status_file == Path(loaded.settings.run_dir) / "rec1.status.json"
    assert cfg.name == cfg.instance == "rec1"
    args = build_parser().parse_args(["record", "--instance", "rec2"])
    assert instance_config(loaded, args).poll_time is None                  # 0 = until stopped


@pytest.mark.parametrize("argv, reason", [
    (["--instance", "nope"], "no engine instance 'nope'"),
    (["--instance", "scanner"], "is a scanner, not a recorder"),
    (["--instance", "rec1", "--symbols", "ETHUSDT"], "takes its symbols, poll time and directory from engines.json"),
    ([], "give --symbols"),
])
def test_what_cannot_run_exits_2_with_the_reason(base, argv, reason):
    out = record(base, *argv)
    assert out.returncode == 2 and reason in out.stderr, out.stderr
    assert not (base / "logs" / "recorders").exists()


def test_a_hand_edited_engines_json_with_a_shared_symbol_is_refused_at_start(base):
    save_instances(base / "engines.json", [
        EngineInstance("rec1", "recorder", (), (("SYMBOLS", ("BTCUSDT",)),)),
        EngineInstance("rec2", "recorder", (), (("SYMBOLS", ("SOLUSDT", "BTCUSDT")),))])
    out = record(base, "--instance", "rec2")
    assert out.returncode == 2 and "BTCUSDT is already taken by recorder instance rec1" in out.stderr
    assert "BTCUSDT is already taken" in (base / "logs" / "rec2.jsonl").read_text()   # its own log file
