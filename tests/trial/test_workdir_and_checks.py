"""The work directory a trial writes, the config watch, and the secret scans (files and responses)."""
from __future__ import annotations

import json
import os
import stat

import pytest

from trial.clients import LeakScanner
from trial.final import scan_files
from trial.monitor import Monitor
from trial.params import SHORT, with_overrides
from trial.workdir import create


@pytest.fixture
def work(tmp_path):
    return create(tmp_path / "w", SHORT)


def test_settings_files_are_written_as_a_user_would(work):
    cfg = json.loads(work.config_file.read_text())
    assert cfg["ASTER_PAPER"] is True and cfg["ASTER_PAPER_ADMIN"] is True
    assert cfg["ASTER_PAPER_SYMBOLS"] == cfg["ASTER_INCLUDE_SYMBOLS"]
    assert len(cfg["ASTER_PAPER_SYMBOLS"].split(",")) >= 10
    assert cfg["ASTER_PAPER_URL"] == work.paper_url and cfg["ASTER_DASHBOARD_PORT"] == work.dashboard_port
    assert stat.S_IMODE(os.stat(work.dotenv_file).st_mode) == 0o600
    text = work.config_file.read_text()
    assert not any(v in text for v in work.secrets.values().values())       # secrets only in .env
    s = work.load_settings().settings
    assert s.paper_speed == SHORT.speed and s.dashboard_token == work.secrets.dashboard_token
    assert s.paper_api_key == work.secrets.paper_api_key and s.api_key == work.secrets.api_key


def test_secrets_differ_per_run(tmp_path):
    a, b = create(tmp_path / "a", SHORT), create(tmp_path / "b", SHORT)
    assert set(a.secrets.values().values()).isdisjoint(b.secrets.values().values())


def test_a_used_directory_or_a_bad_setting_is_refused(tmp_path, work):
    with pytest.raises(FileExistsError):
        create(work.path, SHORT)
    with pytest.raises(ValueError, match="ASTER_LEVERAGE"):
        create(tmp_path / "bad", with_overrides(SHORT, extra_settings={"ASTER_LEVERAGE": 999}))


def test_the_config_watch_validates_every_new_version_of_the_file(work):
    mon = Monitor(work, SHORT, dashboard=None, venue=None)
    mon.check_config()
    assert mon.config.versions == 1 and mon.config.violations == []
    mon.check_config()                                   # unchanged: not counted again
    assert mon.config.versions == 1
    cfg = json.loads(work.config_file.read_text())
    work.config_file.write_text(json.dumps({**cfg, "ASTER_LEVERAGE": 500}))
    mon.check_config()
    assert mon.config.versions == 2 and len(mon.config.violations) == 1 and "ASTER_LEVERAGE" in mon.config.violations[0]


def test_file_scan_finds_a_leaked_secret_and_leaves_dotenv_alone(work):
    (work.log_dir).mkdir()
    (work.log_dir / "bot.jsonl").write_text('{"msg": "all fine ***"}\n')
    secrets = work.secrets.values()
    clean = scan_files(work.path, secrets)
    assert clean.hits == [] and clean.files >= 2                  # .env holds them all and is not scanned
    (work.log_dir / "guard.out").write_text(f"oops {work.secrets.api_secret}\n")
    leaked = scan_files(work.path, secrets)
    assert leaked.hits == [("logs/guard.out", "ASTER_API_SECRET")]


def test_response_scanner_counts_hits_and_honours_the_admin_exception():
    scanner = LeakScanner({"ASTER_API_KEY": "lk123456", "ASTER_PAPER_API_KEY": "pk123456"})
    scanner.scan("dashboard GET /api/config", b'{"ASTER_API_KEY": "********"}')
    scanner.scan("paper GET /admin/state", b'{"accounts": {"pk123456": {}}}', allow=("ASTER_PAPER_API_KEY",))
    assert scanner.hits == [] and scanner.responses == 2
    scanner.scan("paper GET /paper/info", "pk123456")
    scanner.scan("dashboard GET /api/logs", b"... lk123456 ...")
    assert scanner.hits == [("paper GET /paper/info", "ASTER_PAPER_API_KEY"),
                            ("dashboard GET /api/logs", "ASTER_API_KEY")]
