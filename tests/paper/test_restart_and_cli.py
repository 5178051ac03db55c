"""Persistence across restarts, separate accounts, corrupt databases, and the command line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from paper.testing import PaperExchange, PaperExchangeError

from tests.paper.api_helpers import Api


def test_restart_keeps_accounts_positions_orders_and_history(tmp_path):
    with PaperExchange(tmp_path, symbols=("BTCUSDT",), seed=5) as px:
        a = Api(px.url)
        b = Api(px.url, key="second-account", secret="x" * 20)
        px.admin("POST", "/price", symbol="BTCUSDT", price="60000")
        a.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
        stop = a.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="SELL", type="STOP_MARKET", stopPrice="59000",
                    closePosition="true", newClientOrderId="mr-BTCUSDT.r1-SL")
        b.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.020")
        px.admin("POST", "/balance", api_key="second-account", balance="4321")
        before = {k: a.ok("GET", p) for k, p in (("bal", "/fapi/v2/balance"), ("pos", "/fapi/v3/positionRisk"))}
        trades = a.ok("GET", "/fapi/v1/userTrades", symbol="BTCUSDT")
        px.restart()
        assert a.ok("GET", "/fapi/v2/balance")[0]["balance"] == before["bal"][0]["balance"]
        assert a.ok("GET", "/fapi/v3/positionRisk")[0]["positionAmt"] == "0.010"
        assert a.ok("GET", "/fapi/v1/userTrades", symbol="BTCUSDT") == trades
        assert b.ok("GET", "/fapi/v2/balance")[0]["balance"] == "4321.00000000"        # accounts stay apart
        assert b.ok("GET", "/fapi/v3/positionRisk")[0]["positionAmt"] == "-0.020"
        still = a.ok("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="mr-BTCUSDT.r1-SL")
        assert still["status"] == "NEW" and still["orderId"] == stop["orderId"]
        # the restored stop is armed again: it fires on the next move through its level
        px.admin("POST", "/price", symbol="BTCUSDT", price="58000")
        assert a.ok("GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=stop["orderId"])["status"] == "FILLED"
        assert a.ok("GET", "/fapi/v3/positionRisk") == []
        newer = a.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        assert newer["orderId"] > stop["orderId"]                                       # ids never repeat
    with PaperExchange(tmp_path, symbols=("BTCUSDT",), seed=5, reset=True) as px:
        a = Api(px.url)
        assert a.ok("GET", "/fapi/v2/balance")[0]["balance"] == "10000.00000000"
        assert a.ok("GET", "/fapi/v1/userTrades", symbol="BTCUSDT") == []


def test_a_crash_keeps_every_acknowledged_order(tmp_path):
    with PaperExchange(tmp_path, symbols=("BTCUSDT",)) as px:
        a = Api(px.url)
        o = a.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                 quantity="0.002", price="5000")
        px.kill()
        px.start()
        assert a.ok("GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=o["orderId"])["status"] == "NEW"


def test_corrupt_database_is_kept_aside_and_reported(tmp_path):
    (tmp_path / "paper_exchange.sqlite").write_bytes(b"this is not a database at all" * 100)
    with PaperExchange(tmp_path, symbols=("BTCUSDT",)) as px:
        assert Api(px.url).ok("GET", "/fapi/v2/balance")[0]["balance"] == "10000.00000000"
    aside = list(tmp_path.glob("paper_exchange.sqlite.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")
    events = [json.loads(line) for line in px.log_path.read_text().splitlines()]
    assert any(e["event"] == "paper.store_corrupt" and e["level"] == "ERROR" for e in events)


def test_fixed_key_pair_admin_off_and_faults_at_start(tmp_path):
    env = {"ASTER_PAPER_API_KEY": "only-me", "ASTER_PAPER_API_SECRET": "my-secret-value"}
    with PaperExchange(tmp_path, symbols=("BTCUSDT",), admin=False, faults="burst_429=1", env=env) as px:
        r = httpx.get(f"{px.url}/fapi/v1/time")
        assert r.status_code == 429                                   # the fault given at start
        assert Api(px.url, key="only-me", secret="my-secret-value").signed("GET", "/fapi/v2/balance").status_code == 200
        assert Api(px.url, key="only-me", secret="wrong").err("GET", "/fapi/v2/balance") == (400, -1022)
        assert Api(px.url, key="someone-else", secret="x" * 10).err("GET", "/fapi/v2/balance") == (401, -2015)
        assert httpx.get(f"{px.url}/admin/state").status_code == 404
        assert px.env()["ASTER_PAPER_API_KEY"] == "only-me"
        info = httpx.get(f"{px.url}/paper/info").json()
        assert info["fixed_key"] is True and info["admin"] is False
        assert "my-secret-value" not in px.log_path.read_text() + px.out_path.read_text()


def test_fixed_key_plus_operator_registered_accounts(tmp_path):
    """With ASTER_PAPER_API_KEY set, pairs registered through the admin API are further accounts (a second
    engine's account in the trial), verified strictly; any other key is still refused; kept across a restart."""
    env = {"ASTER_PAPER_API_KEY": "only-me", "ASTER_PAPER_API_SECRET": "my-secret-value"}
    with PaperExchange(tmp_path, symbols=("BTCUSDT",), env=env) as px:
        assert Api(px.url, key="second", secret="second-secret").err("GET", "/fapi/v2/balance") == (401, -2015)
        px.admin("POST", "/keys", api_key="only-me", key="second", secret="second-secret")
        ok = Api(px.url, key="second", secret="second-secret").signed("GET", "/fapi/v2/balance")
        assert ok.status_code == 200
        assert Api(px.url, key="second", secret="wrong").err("GET", "/fapi/v2/balance") == (400, -1022)
        assert Api(px.url, key="third", secret="x" * 10).err("GET", "/fapi/v2/balance") == (401, -2015)
        with pytest.raises(Exception, match="-2015"):
            px.admin("POST", "/keys", api_key="only-me", key="only-me", secret="replaced")
        px.restart()
        assert Api(px.url, key="second", secret="second-secret").signed("GET", "/fapi/v2/balance").status_code == 200
        assert Api(px.url, key="only-me", secret="my-secret-value").signed("GET", "/fapi/v2/balance").status_code == 200


def _mraster(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ASTER_")}
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "commands.main", "paper-exchange", *args], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=60)


def test_cli_refuses_bad_faults_and_feeds(tmp_path):
    r = _mraster(["--port", "0", "--faults", "latency=5"], tmp_path)
    assert r.returncode == 2 and "unknown fault 'latency'" in r.stderr
    r = _mraster(["--port", "0", "--feed", "replay:/nonexistent/data"], tmp_path,
                 {"ASTER_LOG_DIR": str(tmp_path / "logs")})
    assert r.returncode == 2 and "/nonexistent/data" in r.stderr
    r = _mraster(["--port", "0", "--profile", "aster-v3"], tmp_path, {"ASTER_PAPER_AGENTS": "0x12:0x34"})
    assert r.returncode == 2 and "ASTER_PAPER_AGENTS" in r.stderr and "user:agent" in r.stderr
    r = _mraster(["--port", "0", "--profile", "kraken"], tmp_path)
    assert r.returncode == 2 and "aster-v3" in r.stderr          # argparse names the choices


def test_harness_reports_a_child_that_cannot_start(tmp_path):
    px = PaperExchange(tmp_path, feed="replay:/nonexistent/data")
    with pytest.raises(PaperExchangeError) as e:
        px.start()
    assert "exited with code 2" in str(e.value)


def test_a_restart_without_a_held_symbol_is_refused_and_keeps_the_position(tmp_path):
    with PaperExchange(tmp_path, symbols=("BTCUSDT", "ETHUSDT"), seed=5) as px:
        a = Api(px.url)
        a.ok("POST", "/fapi/v1/order", symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.100")
    narrower = PaperExchange(tmp_path, symbols=("BTCUSDT",), seed=5)
    with pytest.raises(PaperExchangeError) as e:
        narrower.start()
    assert "exited with code 2" in str(e.value) and "ETHUSDT" in str(e.value) and "--reset" in str(e.value)
    with PaperExchange(tmp_path, symbols=("BTCUSDT", "ETHUSDT"), seed=5) as px:    # nothing was dropped
        assert Api(px.url).ok("GET", "/fapi/v3/positionRisk")[0]["positionAmt"] == "0.100"
