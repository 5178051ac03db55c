"""`mraster momentum` as a user runs it, against a paper exchange: the seed's flags in both spellings,
--poll-time ends the run cleanly, --update-logs records the five CSV families through the recorder, dry
mode sends nothing, key files as the seed reads them (ORDER_API_KEY / ORDER_SECRET_KEY naming files)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mraster.childproc import clean_environ
from paper.testing import PaperExchange

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("mom-cmd-px"), symbols=("BTCUSDT", "ETHUSDT"), seed=8) as ex:
        yield ex


def _run(px, wd: Path, *args: str, extra: dict | None = None) -> subprocess.CompletedProcess:
    env = clean_environ({**px.env(), "ASTER_RUN_DIR": str(wd / "run"), "ASTER_LOG_DIR": str(wd / "logs"),
                         "ASTER_JOURNAL_FILE": str(wd / "journal.sqlite"),
                         "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **(extra or {})})
    wd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, "-m", "commands.main", "momentum", *args], cwd=wd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_dry_run_with_update_logs_stops_after_poll_time(px, tmp_path):
    done = _run(px, tmp_path, "--symbols", "BTCUSDT,ETHUSDT", "--poll_time", "4", "--enable_trading", "false",
                "--update_logs", "true", "--order_notional", "5", "--log-dir", str(tmp_path / "csv"),
                extra={"ASTER_API_KEY": "mom-cmd-dry", "ASTER_API_SECRET": "x"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    families = {p.name.rsplit("_", 1)[0] for p in (tmp_path / "csv").glob("*_*.csv")}
    assert {"kline", "bookTicker", "markPrice", "aggTrade_1s", "depth5"} <= families
    status = json.loads((tmp_path / "run" / "momentum.status.json").read_text())
    assert status["state"] == "stopped" and status["trading"] is False and status["ticks"] >= 3
    assert set(status["symbols"]) == {"BTCUSDT", "ETHUSDT"}
    acct = px.admin("GET", "/state", account="mom-cmd-dry")["accounts"].get("mom-cmd-dry", {})
    assert not acct.get("open_orders") and not acct.get("positions")


def test_key_files_and_dash_spellings_with_trading_on(px, tmp_path):
    (tmp_path / "api.txt").write_text("mom-cmd-keyfile\n")
    (tmp_path / "secret.txt").write_text("s3cr3t-from-file\n")
    done = _run(px, tmp_path, "--symbols", "ETHUSDT", "--poll-time", "2", "--enable-trading", "true",
                "--order-notional", "5", extra={"ORDER_API_KEY": str(tmp_path / "api.txt"),
                                                "ORDER_SECRET_KEY": str(tmp_path / "secret.txt")})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    acct = px.admin("GET", "/state", account="mom-cmd-keyfile")["accounts"]["mom-cmd-keyfile"]
    assert acct["leverage"].get("ETHUSDT") == 10 and acct["margin_type"].get("ETHUSDT") == "ISOLATED"  # ensure_risk_setup
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.jsonl"))
    assert "s3cr3t-from-file" not in logs + done.stdout + done.stderr


def test_bad_flag_value_is_a_clear_error(px, tmp_path):
    done = _run(px, tmp_path, "--enable-trading", "maybe")
    assert done.returncode == 2 and "expected true or false" in done.stderr


def test_instance_from_engines_json_with_its_settings_and_env_override(tmp_path):
    """`python -m momentum --instance mom1` (as the dashboard starts it): the instance's settings from
    engines.json, an MRASTER_MOM1__* override above them, its own status and state files."""
    import argparse

    from commands.momentum_cmd import resolve
    from mraster.settings.loader import load_settings
    from momentum.config import config_from
    (tmp_path / "dashboard_config.json").write_text("{}")
    (tmp_path / "engines.json").write_text(json.dumps({"instances": [
        {"name": "scanner", "kind": "scanner"},
        {"name": "mom1", "kind": "momentum", "settings": {"SYMBOLS": "SOLUSDT,ETHUSDT", "k": 3.5}}]}))
    env = {"ASTER_CONFIG_FILE": str(tmp_path / "dashboard_config.json"), "MRASTER_MOM1__ORDER_NOTIONAL": "12"}
    old = dict(os.environ)
    os.environ.update(env)
    try:
        loaded = load_settings(env=env, cwd=tmp_path)
        settings, name, values, status, state = resolve(loaded, argparse.Namespace(instance="mom1"))
    finally:
        os.environ.clear()
        os.environ.update(old)
    cfg = config_from(values, instance=name, status_path=status, state_path=state, base_dir=tmp_path)
    assert name == "mom1" and cfg.symbols == ("SOLUSDT", "ETHUSDT") and cfg.defaults.k == 3.5
    assert cfg.order_notional == 12.0 and status.name == "mom1.status.json" and state.name == "mom1.state.json"
    assert cfg.params_file == status.parent / "momentum_params.json"          # where the dashboard's Apply writes
    with pytest.raises(SystemExit, match="kind scanner"):
        resolve(loaded, argparse.Namespace(instance="scanner"))
