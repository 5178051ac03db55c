"""Two scanner instances on the real paper exchange (issue 14: ownership, journal, risk gate).

- on two named accounts (ASTER_ACCOUNTS in paper mode: paper-<n> keys), with different settings, at once:
  separate balances, every order under its own instance's name, journal rows separated by account and
  instance;
- on one account, a seeded random interleaving of their cycles with hand-placed orders and venue-side
  cancels in between: no call either makes ever cancels, replaces or closes the other's orders or a
  hand-placed one (every venue call is recorded), and no symbol-wide cancel is ever sent;
- the account's risk gate refuses an entry over ASTER_ACCOUNT_MAX_POSITIONS for either instance.
"""
from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mraster.domain.ids import parse_client_order_id
from mraster.domain.ownership import owner_of
from mraster.domain.types import OrderRequest, OrderType, Side, TimeInForce
from mraster.exchange.factory import make_exchange
from mraster.engines import resolve_instance
from mraster.settings import load_settings
from mraster.state import read_state_readonly
from paper.testing import PaperExchange
from bot.runtime.loop import Bot

from tests.bot.test_paper_e2e import trading_env

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("paper"), symbols=SYMBOLS, seed=21) as ex:
        yield ex


@pytest.fixture
def own_px(tmp_path_factory):
    """A venue of its own: the venue counts request weight per IP, and after the other tests of this module
    the client would rightly hold its requests for the next minute to stay under 80 % of the limit."""
    with PaperExchange(tmp_path_factory.mktemp("paper-own"), symbols=SYMBOLS, seed=21) as ex:
        yield ex


class Recording:
    """An Exchange that records every order-changing call (who, what) and passes it on."""

    def __init__(self, inner: Any, who: str, calls: list[tuple[str, str, str, str]]):
        self._inner, self._who, self._calls = inner, who, calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def place_order(self, req: OrderRequest):
        self._calls.append((self._who, "place", req.symbol, req.client_order_id))
        return await self._inner.place_order(req)

    async def cancel_order(self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None):
        cid = client_order_id
        if cid is None and order_id is not None:
            cid = (await self._inner.get_order(symbol, order_id=order_id)).client_order_id
        self._calls.append((self._who, "cancel", symbol, cid or ""))
        return await self._inner.cancel_order(symbol, order_id=order_id, client_order_id=client_order_id)

    async def cancel_all(self, symbol: str) -> None:
        self._calls.append((self._who, "cancel_all", symbol, ""))
        await self._inner.cancel_all(symbol)


def workdir(tmp_path: Path, px: PaperExchange, accounts: str, instances: list[dict[str, Any]],
            **extra: str) -> dict[str, str]:
    (tmp_path / "dashboard_config.json").write_text("{}")
    (tmp_path / "engines.json").write_text(json.dumps({"instances": instances}))
    env = trading_env(px, tmp_path, ASTER_ACCOUNTS=accounts, **extra)
    env.pop("ASTER_PAPER_API_KEY")
    env.pop("ASTER_PAPER_API_SECRET")
    return env


async def one_cycle(env: dict[str, str], instance: str, calls: list[tuple[str, str, str, str]]) -> Bot:
    loaded = load_settings(env=env)
    account = resolve_instance(instance, loaded=loaded, environ=env).instance.account
    bot = Bot(loaded, env=env, instance=instance, account=account,
              exchange_factory=lambda s: Recording(make_exchange(s), instance, calls))
    assert await bot.run() == 0
    return bot


async def view(env: dict[str, str], instance: str):
    ex = make_exchange(resolve_instance(instance, loaded=load_settings(env=env), environ=env).settings)
    try:
        return await ex.positions(), await ex.open_orders(), await ex.account()
    finally:
        await ex.close()


async def test_two_instances_on_two_accounts_trade_apart_with_their_own_settings(px, tmp_path):
    env = workdir(tmp_path, px, "TA,TB", [
        {"name": "alpha", "kind": "scanner", "accounts": {"account": "TA"},
         "settings": {"ASTER_INCLUDE_SYMBOLS": "BTCUSDT,ETHUSDT", "ASTER_SL_ATR_MULT": 3}},
        {"name": "beta", "kind": "scanner", "accounts": {"account": "TB"},
         "settings": {"ASTER_INCLUDE_SYMBOLS": "ETHUSDT,SOLUSDT", "ASTER_SL_ATR_MULT": 4, "ASTER_MAX_OPEN_GLOBAL": 1}}])
    before_b = (await view(env, "beta"))[2].total_wallet_balance
    calls: list[tuple[str, str, str, str]] = []
    await asyncio.gather(one_cycle(env, "alpha", calls), one_cycle(env, "beta", calls))
    pos_a, orders_a, acct_a = await view(env, "alpha")
    pos_b, orders_b, acct_b = await view(env, "beta")
    assert pos_a and pos_b, "both instances entered"
    assert {p.symbol for p in pos_a} <= {"BTCUSDT", "ETHUSDT"} and {p.symbol for p in pos_b} <= {"ETHUSDT", "SOLUSDT"}
    assert len(pos_b) == 1                                         # its own ASTER_MAX_OPEN_GLOBAL
    assert all(owner_of(o.client_order_id) == "alpha" for o in orders_a) and orders_a
    assert all(owner_of(o.client_order_id) == "beta" for o in orders_b) and orders_b
    # separate paper accounts: B's balance moved only by B's own fees
    fees_b = Decimal(0)
    for p in pos_b:
        fees_b += sum((t.commission for t in await _fills(env, "beta", p.symbol)), Decimal(0))
    assert acct_b.total_wallet_balance == before_b - fees_b
    assert acct_a.total_wallet_balance != acct_b.total_wallet_balance or fees_b == 0
    # state files apart, the journal separates them
    states = {name: read_state_readonly(resolve_instance(name, loaded=load_settings(env=env), environ=env)
                                        .settings.state_file) for name in ("alpha", "beta")}
    assert all(t.trade_id.startswith("alpha:") for t in states["alpha"].open_trades.values())
    assert all(t.trade_id.startswith("beta:") for t in states["beta"].open_trades.values())
    with sqlite3.connect(env["ASTER_JOURNAL_FILE"]) as db:
        trades = db.execute("SELECT trade_id, account, instance FROM trades").fetchall()
        orders = db.execute("SELECT client_id, account, instance FROM orders").fetchall()
        fills = db.execute("SELECT trade_id, account, instance FROM fills").fetchall()
    assert {(a, i) for _, a, i in trades} == {("TA", "alpha"), ("TB", "beta")}
    assert all(tid.startswith(f"{i}:") for tid, _, i in trades + fills)
    assert all(owner_of(cid) == i for cid, _, i in orders)
    # status files claim each instance's positions on its account
    for name, acct, held in (("alpha", "TA", pos_a), ("beta", "TB", pos_b)):
        status = json.loads((tmp_path / "run" / f"{name}.status.json").read_text())
        assert status["account"] == acct
        assert {c["symbol"] for c in status["positions"]} == {p.symbol for p in held}
    assert not [c for c in calls if c[1] == "cancel_all"]


async def _fills(env, instance, symbol):
    ex = make_exchange(resolve_instance(instance, loaded=load_settings(env=env), environ=env).settings)
    try:
        return await ex.user_trades(symbol)
    finally:
        await ex.close()


async def test_random_interleaving_on_one_account_never_touches_anothers_orders(own_px, tmp_path):
    px = own_px
    env = workdir(tmp_path, px, "RX", [
        {"name": "one", "kind": "scanner", "accounts": {"account": "RX"},
         "settings": {"ASTER_INCLUDE_SYMBOLS": "BTCUSDT,ETHUSDT", "ASTER_MAX_OPEN_GLOBAL": 2}},
        {"name": "two", "kind": "scanner", "accounts": {"account": "RX"},
         "settings": {"ASTER_INCLUDE_SYMBOLS": "ETHUSDT,SOLUSDT", "ASTER_SL_ATR_MULT": 5}}])
    rng = random.Random(1414)
    calls: list[tuple[str, str, str, str]] = []
    manual: list[str] = []
    key = "paper-rx"
    cancelled = 0
    for step in range(6):              # 6 cycles stay under 80 % of the venue's weight per minute
        await one_cycle(env, rng.choice(["one", "two"]), calls)
        what = rng.random()
        positions, orders, _ = await view(env, "one")
        if what < 0.35:                       # a person rests a far-away order (a hand order: nobody's)
            sym = rng.choice(SYMBOLS)
            mark = next((p.mark_price for p in positions if p.symbol == sym), None)
            price = await _far_price(env, sym, mark)
            cid = f"hand{step}x{rng.randrange(10**6)}"
            await _place(env, OrderRequest(symbol=sym, side=Side.BUY, type=OrderType.LIMIT, client_order_id=cid,
                                           quantity=Decimal("0.1") if sym != "BTCUSDT" else Decimal("0.001"),
                                           price=price, time_in_force=TimeInForce.GTC))
            manual.append(cid)
        elif what < 0.7 and orders:           # the venue cancels one resting bracket of either instance
            victim = rng.choice([o for o in orders if owner_of(o.client_order_id) in ("one", "two")] or orders)
            px.admin("POST", "/orders/cancel", account=key, symbol=victim.symbol, orderId=victim.order_id)
            cancelled += 1
    positions, orders, _ = await view(env, "one")
    assert {c[0] for c in calls} == {"one", "two"} and positions and manual and cancelled
    touched = [c for c in calls if c[1] in ("cancel", "place")]
    foreign = [c for c in touched if owner_of(c[3]) != c[0]]
    assert not foreign, f"an instance sent an order or cancel under another's name: {foreign}"
    assert not [c for c in calls if c[1] == "cancel_all"], "no symbol-wide cancel"
    resting = {o.client_order_id for o in orders}
    assert set(manual) <= resting, "hand-placed orders were never cancelled"
    # every position on the account is one instance's, with that instance's brackets on it
    states = {n: read_state_readonly(resolve_instance(n, loaded=load_settings(env=env), environ=env).settings
                                     .state_file) for n in ("one", "two")}
    for p in positions:
        holders = [n for n, st in states.items() if any(t.symbol == p.symbol for t in st.open_trades.values())]
        assert len(holders) == 1, f"{p.symbol} held by {holders}"
        exits = [o for o in orders if o.symbol == p.symbol and parse_client_order_id(o.client_order_id)]
        assert exits and all(owner_of(o.client_order_id) == holders[0] for o in exits)


async def test_account_cap_refuses_either_instance_at_the_gate(px, tmp_path):
    env = workdir(tmp_path, px, "GC", [
        {"name": "first", "kind": "scanner", "accounts": {"account": "GC"},
         "settings": {"ASTER_INCLUDE_SYMBOLS": "BTCUSDT"}},
        {"name": "second", "kind": "scanner", "accounts": {"account": "GC"},
         "settings": {"ASTER_INCLUDE_SYMBOLS": "SOLUSDT,ETHUSDT"}}],
        ASTER_ACCOUNT_MAX_POSITIONS="1")
    calls: list[tuple[str, str, str, str]] = []
    first = await one_cycle(env, "first", calls)
    assert first.rt is not None and first.rt.state.open_trades
    second = await one_cycle(env, "second", calls)
    assert second.rt is not None and not second.rt.state.open_trades
    reasons = {r["reason"] for r in second.rt.state.last_scan["symbols"].values()}
    assert "account_positions" in reasons
    positions, _, _ = await view(env, "first")
    assert [p.symbol for p in positions] == ["BTCUSDT"]
    again = await one_cycle(env, "first", calls)          # its own held symbol: no second position anyway
    assert again.rt is not None and len(again.rt.state.open_trades) == 1


async def _far_price(env: dict[str, str], symbol: str, mark: Decimal | None) -> Decimal:
    ex = make_exchange(resolve_instance("one", loaded=load_settings(env=env), environ=env).settings)
    try:
        price = Decimal(str(mark or (await ex.mark_price(symbol)).mark_price))
        rules = (await ex.symbol_rules())[symbol]
        return rules.round_price(price * Decimal("0.7"), "down")
    finally:
        await ex.close()


async def _place(env: dict[str, str], req: OrderRequest) -> None:
    ex = make_exchange(resolve_instance("one", loaded=load_settings(env=env), environ=env).settings)
    try:
        await ex.place_order(req)
    finally:
        await ex.close()


async def test_a_paper_exchange_with_a_fixed_key_still_hosts_each_named_account_apart(tmp_path):
    with PaperExchange(tmp_path / "fixed", symbols=("BTCUSDT",), seed=3, balance=5000.0,
                       env={"ASTER_PAPER_API_KEY": "only-me", "ASTER_PAPER_API_SECRET": "s3",
                            "ASTER_ACCOUNTS": "FA,FB"}) as fixed:
        async def client(key: str, secret: str):
            return make_exchange(load_settings(env={**fixed.env(), "ASTER_PAPER_API_KEY": key,
                                                    "ASTER_PAPER_API_SECRET": secret,
                                                    "ASTER_CONFIG_FILE": str(tmp_path / "c.json"),
                                                    "ASTER_DOTENV_FILE": str(tmp_path / "e")}).settings)
        fa, fb, stranger = (await client("paper-fa", "paper-secret"), await client("paper-fb", "paper-secret"),
                            await client("someone", "x"))
        try:
            await fa.place_order(OrderRequest(symbol="BTCUSDT", side=Side.BUY, type=OrderType.MARKET,
                                              client_order_id="fa1", quantity=Decimal("0.01")))
            assert [p.symbol for p in await fa.positions()] == ["BTCUSDT"] and not await fb.positions()
            a, b = await fa.account(), await fb.account()
            assert b.total_wallet_balance == Decimal("5000") and a.total_wallet_balance < Decimal("5000")
            with pytest.raises(Exception, match="-2015|Invalid API-key"):
                await stranger.account()
        finally:
            for ex in (fa, fb, stranger):
                await ex.close()


def test_python_m_bot_instance_runs_the_named_instance_as_a_child(px, tmp_path):
    import subprocess
    import sys
    from mraster.childproc import clean_environ
    env = workdir(tmp_path, px, "CH", [
        {"name": "scanner", "kind": "scanner"},
        {"name": "kid", "kind": "scanner", "accounts": {"account": "CH"}, "settings": {"ASTER_INCLUDE_SYMBOLS": "SOLUSDT"}}])
    child = clean_environ({**env, "MRASTER_INSTANCE": "kid", "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    done = subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, env=child, timeout=120,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    st = read_state_readonly(tmp_path / "aster_state.kid.json")
    assert st is not None and st.cycle == 1 and not (tmp_path / "aster_state.json").exists()
    assert all(t.trade_id.startswith("kid:SOLUSDT.") for t in st.open_trades.values())
    status = json.loads((tmp_path / "run" / "kid.status.json").read_text())
    assert status["instance"] == "kid" and status["account"] == "CH"
    assert (tmp_path / "logs" / "kid.jsonl").exists() and not (tmp_path / "logs" / "bot.jsonl").exists()
    wrong = subprocess.run([sys.executable, "-m", "bot", "--instance", "nosuch"], cwd=tmp_path, env=child,
                           timeout=60, capture_output=True, text=True)
    assert wrong.returncode == 2 and "no engine instance 'nosuch'" in wrong.stderr
