"""`mraster policy show|eval`: in-process through commands.main, and once as a real child process."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from commands.main import main
from ml_policy import BanditPolicy, PolicyConfig
from ml_policy.eventlog import ensure_schema, read_events, record_decision, record_reward, write_events_csv

from tests.policy.synth import linear_world, make_ctx

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A clean directory and environment: settings come only from defaults and what a test sets."""
    for key in list(os.environ):
        if key.startswith(("ASTER_", "FAST_TP", "FASTTP")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_bot_like(workdir: Path, n: int, enabled: bool) -> BanditPolicy:
    """What the bot does: decide, log, enter, exit, save next to the state file."""
    cfg = PolicyConfig(enabled=enabled)
    policy, _ = BanditPolicy.load_or_create(workdir / "aster_policy.json", cfg)
    world, rng = linear_world(cfg), np.random.default_rng(3)
    conn = sqlite3.connect(workdir / "aster_journal.sqlite")
    ensure_schema(conn)
    for t in range(n):
        c = make_ctx(rng, t)
        d = policy.decide(c)
        record_decision(conn, f"s{t}", c.time_ms, c.symbol, c, d)
        if d.take:
            policy.note_entry(f"s{t}", c, d.effective_arm, shadow_arm=d.arm)
            r = world.draw_r(c, rng)
            policy.note_exit(f"s{t}", r)
            record_reward(conn, f"s{t}", r, c.time_ms + 1)
    conn.commit()
    conn.close()
    policy.save()
    return policy


def test_show_prints_arm_statistics_and_shadow_comparison(workdir, capsys):
    policy = run_bot_like(workdir, 150, enabled=False)
    assert main(["policy", "show", "--set", "ASTER_BANDIT_ENABLED=false"]) == 0
    out = capsys.readouterr().out
    assert "mode shadow" in out and "150 decisions" in out and "shadow mode: the policy would have chosen" in out
    assert main(["policy", "show", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["arms"]["M"]["updates"] == 150 and data["decisions"] == 150
    assert data["shadow"]["closed"] == 150
    assert data["arms"] == policy.summary()["arms"]


def test_show_without_a_policy_file_explains(workdir, capsys):
    assert main(["policy", "show"]) == 1
    assert "no policy file at aster_policy.json" in capsys.readouterr().err
    (workdir / "aster_policy.json").write_text("{broken")
    assert main(["policy", "show"]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert (workdir / "aster_policy.json").exists(), "show never moves a file"


def test_eval_reads_the_journal_from_the_settings_and_a_csv(workdir, capsys):
    run_bot_like(workdir, 300, enabled=True)
    assert main(["policy", "eval", "--json", "--seed", "4"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source"] == "aster_journal.sqlite" and report["events"] == 300
    assert report["config"]["seed"] == 4
    assert set(report["replay"]) == {"policy", "always_M", "always_SKIP"}
    write_events_csv(read_events(workdir / "aster_journal.sqlite"), workdir / "events.csv")
    assert main(["policy", "eval", "--csv", "events.csv", "--alpha", "1.0"]) == 0
    text = capsys.readouterr().out
    assert "300 events" in text and "LinUCB(alpha=1)" in text and "always-M" in text and "matched" in text
    assert "bucket scaling" in text


def test_eval_errors_are_clear(workdir, capsys):
    assert main(["policy", "eval"]) == 1
    assert "aster_journal.sqlite: no such file" in capsys.readouterr().err
    (workdir / "empty.csv").write_text("")
    assert main(["policy", "eval", "--csv", "empty.csv"]) == 1
    assert "empty" in capsys.readouterr().err
    assert main(["policy", "eval", "--csv", "empty.csv", "--alpha", "-2"]) == 1
    assert "alpha" in capsys.readouterr().err
    assert main(["policy", "show", "--set", "ASTER_BANDIT_FEATURES=nope"]) == 2
    assert "ASTER_BANDIT_FEATURES" in capsys.readouterr().err


def test_policy_command_as_a_child_process(workdir):
    run_bot_like(workdir, 40, enabled=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASTER_", "FAST_TP", "FASTTP"))}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-m", "commands.main", "policy", "show", "--json"], cwd=workdir,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["decisions"] == 40


def test_eval_help_lists_its_options(capsys):
    with pytest.raises(SystemExit) as done:
        main(["policy", "eval", "--help"])
    assert done.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--journal", "--csv", "--alpha", "--seed", "--json", "--set NAME=VALUE"):
        assert option in help_text
