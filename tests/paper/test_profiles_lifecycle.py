"""The bot and the guard through a whole bracket life cycle on each venue profile of the paper exchange:
the real bot (in process) opens a trade with its stop and take-profit resting on the venue; a real guard
child watches it; the venue cancels the stop, the guard puts a new one in place; the price runs through
the stop, the position closes, the sibling take-profit is cleaned up; the bot's next cycle books the
trade as stopped out. aster-v1 (HMAC), aster-v3 (API-wallet signatures, /fapi/v3), binance-usdm (stops
and take-profits as Algo Service orders, ALGO_UPDATE on the user stream)."""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from paper.testing import PaperExchange
from bot.runtime.loop import Bot
from mraster.settings import load_settings
from mraster.state import StateStore
from guard.testing import GuardProcess

SYMBOLS = ("BTCUSDT", "ETHUSDT")
PROFILES = ("aster-v1", "aster-v3", "binance-usdm")
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module", params=PROFILES)
def venue(request, tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp(request.param), symbols=SYMBOLS, seed=21,
                       profile=request.param) as px:
        yield px


def account_env(px: PaperExchange, work: Path) -> tuple[dict[str, str], str]:
    """Settings of one account on this exchange (its own credentials), and the account's name at the venue."""
    env = {**px.env(),
           "ASTER_CONFIG_FILE": str(work / "dashboard_config.json"), "ASTER_DOTENV_FILE": str(work / "none.env"),
           "ASTER_STATE_FILE": str(work / "aster_state.json"), "ASTER_JOURNAL_FILE": str(work / "journal.sqlite"),
           "ASTER_LOG_DIR": str(work / "logs"), "ASTER_RUN_DIR": str(work / "run"),
           "ASTER_INCLUDE_SYMBOLS": ",".join(SYMBOLS), "ASTER_INTERVAL": "1m", "ASTER_HTF_INTERVAL": "5m",
           "ASTER_KLINES": "100", "ASTER_RSI_BUY_MIN": "50", "ASTER_RSI_SELL_MAX": "50",
           "ASTER_ALLOW_TREND_ALIGN": "false", "ASTER_MIN_EDGE_R": "-10", "ASTER_FUNDING_FILTER_ENABLED": "false",
           "ASTER_BANDIT_ENABLED": "false", "ASTER_MAX_OPEN_GLOBAL": "1", "ASTER_LOOP_SLEEP": "0.2",
           "ASTER_RUN_ONCE": "true", "ASTER_SL_ATR_MULT": "3", "ASTER_TP_ATR_MULT": "6"}
    if px.profile == "aster-v3":
        rng = random.Random(px.port)
        user, agent = (Account.from_key(bytes(rng.getrandbits(8) for _ in range(32))) for _ in range(2))
        px.admin("POST", "/agents", user=user.address, agent=agent.address)
        env.update(ASTER_V3_USER=user.address, ASTER_V3_SIGNER_KEY=agent.key.hex())
        return env, user.address.lower()
    key = f"life-{px.profile}"
    env.update(ASTER_PAPER_API_KEY=key, ASTER_PAPER_API_SECRET="s")
    return env, key


def exits(px: PaperExchange, account: str) -> list[dict]:
    """The account's resting exits as the venue holds them: regular orders, and Algo Service orders."""
    state = px.admin("GET", "/state", account=account)["accounts"].get(account, {})
    out = [{"id": o["orderId"], "cid": o["clientOrderId"], "type": o["origType"], "stop": o["stopPrice"]}
           for o in state.get("open_orders", [])]
    out += [{"id": o["algoId"], "cid": o["clientAlgoId"], "type": o["orderType"], "stop": o["triggerPrice"]}
            for o in state.get("open_algo_orders", [])]
    return out


def position_amount(px: PaperExchange, account: str, symbol: str) -> Decimal:
    state = px.admin("GET", "/state", account=account)["accounts"].get(account, {})
    return sum((Decimal(p["amount"]) for p in state.get("positions", []) if p["symbol"] == symbol), Decimal(0))


def until(cond, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)


async def test_bracket_life_cycle_with_bot_and_guard(venue, tmp_path):
    px = venue
    env, account = account_env(px, tmp_path)
    assert await Bot(load_settings(env=env), env=env).run() == 0
    (trade,) = StateStore(tmp_path / "aster_state.json").load().open_trades.values()
    sym = trade.symbol
    placed = {o["cid"]: o for o in exits(px, account)}
    stop, take = placed[trade.client_ids["SL"]], placed[trade.client_ids["TP"]]
    assert (stop["type"], take["type"]) == ("STOP_MARKET", "TAKE_PROFIT_MARKET")
    assert Decimal(stop["stop"]) == trade.stop_price
    algo = px.profile == "binance-usdm"
    assert (int(stop["id"]) >= 3 * 10 ** 15) is algo            # Binance: Algo Service orders (algoId range)

    guard = GuardProcess(tmp_path / "guard", px, interval=1.0, env={k: v for k, v in env.items()
                                                                   if k not in ("ASTER_LOG_DIR", "ASTER_RUN_DIR")})
    guard.start()
    try:
        until(lambda: guard.status().get("checks_total", 0) >= 1, "the guard's first check")
        # the venue cancels the stop: the guard puts a new one in place
        px.admin("POST", "/orders/cancel", account=account, symbol=sym, orderId=stop["id"])
        new_stop = until(lambda: [o for o in exits(px, account) if o["type"] == "STOP_MARKET"
                                  and o["id"] != stop["id"]], "the guard's new stop")[0]
        assert Decimal(new_stop["stop"]) == trade.stop_price
        assert [o["id"] for o in exits(px, account) if o["type"] == "TAKE_PROFIT_MARKET"] == [take["id"]]
        # the price runs through the stop: the position closes and the sibling take-profit goes
        through = trade.stop_price * (Decimal("0.99") if trade.side == "LONG" else Decimal("1.01"))
        px.admin("POST", "/price", account=account, symbol=sym, price=str(through), mark=str(through))
        try:
            until(lambda: position_amount(px, account, sym) == 0, "the stop to close the position")
            until(lambda: not exits(px, account), "the sibling take-profit cleaned up")
        finally:
            px.admin("DELETE", "/price", symbol=sym)
        if algo:      # the fired stop was followed to the regular order it became
            fired = px.admin("GET", "/state", account=account)["accounts"][account]
            assert fired["open_algo_orders"] == [] and fired["open_orders"] == []
    finally:
        assert guard.stop() == 0
    # the bot's next cycle books the trade as stopped out
    env["ASTER_MAX_OPEN_GLOBAL"] = "0"
    assert await Bot(load_settings(env=env), env=env).run() == 0
    st = StateStore(tmp_path / "aster_state.json").load()
    assert not st.open_trades
    (closed,) = st.closed_trades
    assert closed.trade_id == trade.trade_id and closed.exit_reason == "stop" and closed.realized_pnl < 0


@pytest.mark.parametrize("profile", ["aster-v3", "binance-usdm"])
def test_mraster_bot_once_starts_a_paper_exchange_of_the_accounts_profile(profile, tmp_path):
    """`ASTER_PAPER=true ASTER_VENUE_PROFILE=... mraster bot --once` with no credentials at all: the paper
    exchange it starts speaks the account's profile (aster-v3: the client's development API wallet is known to
    it), and the cycle's signed reads go through."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASTER_", "FAST_TP", "FASTTP"))}
    env.update({"ASTER_PAPER": "true", "ASTER_RUN_ONCE": "true", "ASTER_VENUE_PROFILE": profile,
                "ASTER_PAPER_URL": f"http://127.0.0.1:{port}", "ASTER_PAPER_FEED": "synthetic",
                "ASTER_PAPER_SYMBOLS": "BTCUSDT,ETHUSDT", "ASTER_INCLUDE_SYMBOLS": "BTCUSDT,ETHUSDT",
                "ASTER_PAPER_DB": str(tmp_path / "paper.sqlite"), "ASTER_MAX_OPEN_GLOBAL": "0"})
    proc = subprocess.run([sys.executable, "-m", "commands.main", "bot"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=90)
    info = json.loads((tmp_path / "run" / "paper.pid").read_text())
    try:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert httpx.get(f"http://127.0.0.1:{port}/paper/info").json()["profile"] == profile
        events = [json.loads(x) for x in (tmp_path / "logs" / "bot.jsonl").read_text().splitlines() if x.strip()]
        assert next(e for e in events if e["event"] == "cycle.summary")["scanned"] == 2
        assert [e["event"] for e in events if e["level"] in ("ERROR", "CRITICAL")] == []
    finally:
        os.kill(info["pid"], signal.SIGTERM)
