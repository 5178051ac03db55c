"""`mraster config check` as a real child process: the account's profile, and its credentials judged by a
local venue double with a harmless signed read, with a clear message for the common mistakes."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.exchange.fake_profiles import FakeBinanceVenue, FakeV3Venue

ROOT = Path(__file__).resolve().parents[2]
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SIGNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
USER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
STRANGER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"


async def mraster(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run in a thread so the venue double keeps serving on this event loop."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ASTER_")}
    base.update(PYTHONPATH=str(ROOT), ASTER_RUN_DIR=str(tmp_path / "run"), **env)
    return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "commands.main", "config", "check", *args],
                                   capture_output=True, text=True, env=base, cwd=tmp_path, timeout=60)


@pytest.fixture
async def v3venue(exchange_info):
    v = FakeV3Venue(agents={SIGNER: USER}, exchange_info=exchange_info)
    await v.start()
    try:
        yield v
    finally:
        await v.stop()


def v3_env(url: str, **kw: str) -> dict[str, str]:
    env = {"ASTER_VENUE_PROFILE": "aster-v3", "ASTER_EXCHANGE_BASE": url, "ASTER_V3_USER": USER,
           "ASTER_V3_SIGNER": SIGNER, "ASTER_V3_SIGNER_KEY": KEY}
    env.update(kw)
    return env


async def test_v3_account_ok_shows_profile_and_never_the_key(v3venue, tmp_path):
    result = await mraster(tmp_path, env=v3_env(v3venue.url))
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "venue profile aster-v3" in out and f"API wallet {SIGNER} of {USER}" in out and "chain id 1666" in out
    assert "signed read OK (aster-v3): USDT 900.25" in out
    assert KEY[2:] not in out
    assert [s.path for s in v3venue.seen if "signature" in s.params] == ["/fapi/v3/balance"]


async def test_v3_wrong_chain_id_is_named(v3venue, tmp_path):
    result = await mraster(tmp_path, env=v3_env(v3venue.url, ASTER_V3_NETWORK="testnet"))
    assert result.returncode == 2
    assert "chain id 714" in result.stderr and "mainnet needs 1666" in result.stderr


async def test_v3_signer_not_an_approved_agent_is_named(v3venue, tmp_path):
    result = await mraster(tmp_path, env=v3_env(v3venue.url, ASTER_V3_SIGNER="", ASTER_V3_SIGNER_KEY=STRANGER_KEY))
    assert result.returncode == 2
    assert "approved, unexpired API wallet (agent)" in result.stderr and STRANGER_KEY[2:] not in result.stderr


async def test_wrong_profile_for_the_venue_is_named(v3venue, tmp_path):
    result = await mraster(tmp_path, env={"ASTER_EXCHANGE_BASE": v3venue.url, "ASTER_API_KEY": "k",
                                          "ASTER_API_SECRET": "s"})
    assert result.returncode == 2
    assert "ASTER_VENUE_PROFILE=aster-v1 does not seem to be this venue's API" in result.stderr


async def test_binance_wrong_secret_is_named(exchange_info, tmp_path):
    venue = FakeBinanceVenue(exchange_info=exchange_info)
    await venue.start()
    try:
        result = await mraster(tmp_path, env={"ASTER_VENUE_PROFILE": "binance-usdm", "ASTER_EXCHANGE_BASE": venue.url,
                                              "ASTER_API_KEY": venue.api_key, "ASTER_API_SECRET": "wrong"})
        assert result.returncode == 2 and "ASTER_API_SECRET does not belong to ASTER_API_KEY" in result.stderr
        ok = await mraster(tmp_path, env={"ASTER_VENUE_PROFILE": "binance-usdm", "ASTER_EXCHANGE_BASE": venue.url,
                                          "ASTER_API_KEY": venue.api_key, "ASTER_API_SECRET": venue.api_secret})
        assert ok.returncode == 0 and "signed read OK (binance-usdm)" in ok.stdout
        assert venue.api_secret not in ok.stdout + ok.stderr
    finally:
        await venue.stop()


@pytest.mark.parametrize("env,expected", [
    ({"ASTER_EXCHANGE_BASE": "https://fapi.binance.com"}, "is a binance-usdm venue"),
    ({"ASTER_VENUE_PROFILE": "aster-v3", "ASTER_EXCHANGE_BASE": "https://fapi.asterdex-testnet.com",
      "ASTER_V3_SIGNER_KEY": KEY}, "set ASTER_V3_NETWORK=testnet"),
    ({"ASTER_VENUE_PROFILE": "aster-v3", "ASTER_V3_SIGNER": USER, "ASTER_V3_SIGNER_KEY": KEY},
     "is not the address of ASTER_V3_SIGNER_KEY"),
    ({"ASTER_VENUE_PROFILE": "aster-v3", "ASTER_V3_SIGNER": SIGNER}, "ASTER_V3_SIGNER_KEY"),
])
async def test_offline_mistakes(tmp_path, env, expected):
    result = await mraster(tmp_path, "--offline", env=env)
    assert result.returncode == 2 and expected in result.stderr, result.stderr


def test_config_show_masks_the_signer_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASTER_")}
    env.update(PYTHONPATH=str(ROOT), ASTER_VENUE_PROFILE="aster-v3", ASTER_V3_SIGNER_KEY=KEY)
    for args in (["config", "show"], ["config", "show", "--json"]):
        out = subprocess.run([sys.executable, "-m", "commands.main", *args], capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=60)
        assert out.returncode == 0 and KEY[2:] not in out.stdout + out.stderr
        assert "ASTER_V3_SIGNER_KEY" in out.stdout and "********" in out.stdout


async def test_exchange_info_that_does_not_fit_the_profile_is_refused(exchange_info, tmp_path):
    """An Aster profile on a Binance-shaped venue (custom host) would see every bracket refused (-4120)."""
    venue = FakeBinanceVenue(exchange_info=exchange_info)
    await venue.start()
    try:
        result = await mraster(tmp_path, env={"ASTER_EXCHANGE_BASE": venue.url, "ASTER_API_KEY": venue.api_key,
                                              "ASTER_API_SECRET": venue.api_secret})
        assert result.returncode == 2
        assert "no MAX_NUM_ALGO_ORDERS filter" in result.stderr and "aster-v1" in result.stderr
        assert venue.count("GET", "/fapi/v2/balance") == 0          # refused before the signed read
    finally:
        await venue.stop()
