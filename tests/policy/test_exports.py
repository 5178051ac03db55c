"""The package's deliberate public surface, and that registering the CLI stays import-light."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ml_policy
from ml_policy import cli, config

ROOT = Path(__file__).resolve().parents[2]
API = {"ARMS", "FEATURE_NAMES", "POLICY_FILE_NAME", "BanditPolicy", "ContextError", "Decision", "EdgeEstimate",
       "PolicyConfig", "SignalContext", "policy_path_for"}


def test_exported_members():
    assert set(ml_policy.__all__) == API
    for name in API:
        assert getattr(ml_policy, name) is not None
    assert ml_policy.BanditPolicy.__module__ == "ml_policy.policy"
    assert cli.ARMS == config.ARMS


def test_registering_the_policy_command_does_not_import_scikit_learn():
    code = ("import argparse, sys, ml_policy.cli as c; p = argparse.ArgumentParser(); "
            "c.add_parser(p.add_subparsers(), lambda _: None); "
            "print('sklearn' in sys.modules, 'ml_policy.policy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
