"""The operator on a real paper exchange (hedge mode): opens, rotates, closes on risk, never leaves a leg alone."""
from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import pytest

from mraster.domain.types import OrderRequest, OrderType, PositionSide, Side
from tests.deltaneutral.harness import PaperExchange, close_clients, make_operator, positions, run, tick_after_jump

_keys = itertools.count(1)


@pytest.fixture(scope="module")
def px(tmp_path_factory: pytest.TempPathFactory):
    """One venue for the module's operators: a test bed shared by many clients on one IP, so it announces
    ten times the venue's weight per minute (the clients budget by what it announces)."""
    with PaperExchange(tmp_path_factory.mktemp("px"), symbols=("BTCUSDT", "ETHUSDT"), seed=3,
                       env={"ASTER_PAPER_WEIGHT_LIMIT": "24000"}) as ex:
        yield ex


@pytest.fixture
def key() -> str:
    """Each test trades on its own paper account (the paper exchange makes one per API key)."""
    return f"dn-test-{next(_keys)}"


def op_for(px: PaperExchange, tmp_path: Path, key: str, **settings):
    return make_operator(px, tmp_path, settings, {"ASTER_API_KEY": key, "ASTER_API_SECRET": "s"})


async def started(op):
    await op.setup()
    await op.adopt(await op.now_ms())
    return op


def legs(px, key):
    return positions(px, key)


def test_a_pair_opens_with_equal_quantities(px, tmp_path, key):
    async def go():
        op = await started(op_for(px, tmp_path, key))
        await op.tick()
        op.write_status(op.long.exchange.now_ms())
        await close_clients(op)
        return op
    op = run(go())
    held = legs(px, key)
    assert held["BTCUSDT:LONG"] > 0 and held["BTCUSDT:LONG"] == -held["BTCUSDT:SHORT"]
    rows = op.db.__class__(tmp_path / "journal.sqlite").trades("dn1")
    assert sorted((r["position_side"], r["action"]) for r in rows) == [("LONG", "open"), ("SHORT", "open")]
    assert all(r["client_order_id"].startswith("dn1:") and r["account"] == "main" for r in rows)
    import json
    status = json.loads((tmp_path / "run" / "dn1.status.json").read_text())
    pair = status["pairs"][0]
    assert pair["long"]["qty"] == pair["short"]["qty"] and Decimal(pair["metrics"]["net_delta_qty"]) == 0
    assert 5.0 < pair["long"]["liq_distance_pct"] < 7.0          # 15x isolated: about 6.2 %


def test_rotation_after_the_hold_time_on_the_venue_clock(px, tmp_path, key):
    async def go():
        op = await started(op_for(px, tmp_path, key, ROTATION_JITTER_PCT=0))
        await op.tick()
        first = op.held["BTCUSDT"].pair_id
        px.admin("POST", "/clock", advance_ms=80 * 60_000)       # before the hold time: held
        await tick_after_jump(op)
        assert op.held["BTCUSDT"].pair_id == first
        px.admin("POST", "/clock", advance_ms=11 * 60_000)       # 91 min: rotated
        await tick_after_jump(op)
        second = op.held["BTCUSDT"].pair_id
        await close_clients(op)
        return op, first, second
    op, first, second = run(go())
    assert second != first
    held = legs(px, key)
    assert held["BTCUSDT:LONG"] == -held["BTCUSDT:SHORT"] > 0
    day = list(op.rotations.values())
    assert day == [1]
    rows = op.db.__class__(tmp_path / "journal.sqlite").trades("dn1")
    assert sorted(r["action"] for r in rows) == ["close", "close", "open", "open", "open", "open"]


def _hold_price(px, symbol="BTCUSDT", spread=Decimal("0")):
    state = px.admin("GET", "/state")
    mid = Decimal(state["markets"][symbol]["mark"])
    px.admin("POST", "/price", symbol=symbol, price=str(mid), bid=str((mid * (1 - spread)).quantize(Decimal("0.1"))),
             ask=str((mid * (1 + spread)).quantize(Decimal("0.1"))))
    return mid


def test_stop_loss_closes_the_pair(px, tmp_path, key):
    """A wide book (3 % between bid and ask) makes the pair lose more than STOP_LOSS_PCT=1 at once."""
    _hold_price(px, "ETHUSDT", Decimal("0.015"))
    try:
        async def go():
            op = await started(op_for(px, tmp_path, key, TRADING_PAIRS="ETHUSDT"))
            await op.tick()
            assert legs(px, key)                                 # opened
            await op.tick()                                      # the next check closes it
            await close_clients(op)
            return op
        op = run(go())
    finally:
        px.admin("DELETE", "/price", symbol="ETHUSDT")
    assert legs(px, key) == {}
    assert any(e["event"] == "pair.closed.stop_loss" for e in op.events)


def test_drift_closes_the_pair(px, tmp_path, key):
    """Half of the LONG leg closed by hand: the notional imbalance is beyond MAX_PNL_DRIFT_PCT."""
    async def go():
        op = await started(op_for(px, tmp_path, key))
        await op.tick()
        qty = legs(px, key)["BTCUSDT:LONG"]
        half = (qty / 2).quantize(Decimal("0.001"))
        await op.long.exchange.place_order(OrderRequest("BTCUSDT", Side.SELL, OrderType.MARKET, "by-hand-1",
                                                        quantity=half, position_side=PositionSide.LONG))
        await op.tick()
        await close_clients(op)
        return op
    op = run(go())
    assert legs(px, key) == {}
    assert any(e["event"] == "pair.closed.drift" for e in op.events)


def test_a_failed_second_leg_closes_the_first(px, tmp_path, key):
    """The account's balance covers the margin of one leg only: the SHORT is refused, the LONG is closed."""
    px.admin("POST", "/balance", api_key=key, account=key, balance="20")
    async def go():
        op = await started(op_for(px, tmp_path, key))
        await op.tick()
        await close_clients(op)
        return op
    op = run(go())
    assert legs(px, key) == {}
    names = [e["event"] for e in op.events]
    assert "leg.second_failed" in names and "pair.closed.lone_leg" in names
    rows = op.db.__class__(tmp_path / "journal.sqlite").trades("dn1")
    assert sorted((r["position_side"], r["action"]) for r in rows) == [("LONG", "close"), ("LONG", "open")]


def test_a_liquidated_leg_closes_the_other(px, tmp_path, key):
    async def go():
        op = await started(op_for(px, tmp_path, key, TRADING_PAIRS="ETHUSDT"))
        await op.tick()
        out = px.admin("POST", "/liquidate", api_key=key, account=key, symbol="ETHUSDT", positionSide="LONG")
        assert out["liquidated"]
        assert "ETHUSDT:LONG" not in legs(px, key) and "ETHUSDT:SHORT" in legs(px, key)
        await op.tick()
        await close_clients(op)
        return op
    try:
        op = run(go())
    finally:
        px.admin("DELETE", "/price", symbol="ETHUSDT")
    assert legs(px, key) == {}
    assert any(e["event"] == "pair.closed.lone_leg" for e in op.events)


def test_restart_adopts_the_pair_and_opens_no_second_one(px, tmp_path, key):
    async def first():
        op = await started(op_for(px, tmp_path, key))
        await op.tick()
        held = op.held["BTCUSDT"]
        await close_clients(op)
        return held
    held = run(first())
    before = legs(px, key)
    for lost in ("state", "state+db"):               # hold time from the state file, then the db, then the venue
        (tmp_path / "run" / "dn1.state.json").unlink(missing_ok=True)
        if lost == "state+db":
            for f in tmp_path.glob("journal.sqlite*"):
                f.unlink()

        async def again():
            op = await started(op_for(px, tmp_path, key))
            await op.tick()
            await close_clients(op)
            return op
        op = run(again())
        assert legs(px, key) == before
        adopted = op.held["BTCUSDT"]
        assert adopted.adopted
        assert abs(adopted.opened_ms - held.opened_ms) < 5_000
        if lost == "state":
            assert adopted.pair_id == held.pair_id


def test_restart_mid_rotation_ends_with_one_pair(px, tmp_path, key):
    """Killed after closing one leg of a rotation: the restarted operator closes the lone leg, then opens one pair."""
    async def first():
        op = await started(op_for(px, tmp_path, key))
        await op.tick()
        p = await op.long.get_position_risk("BTCUSDT")
        await op.long.close_position(p, op._cids("BTCUSDT", "LX"))
        await close_clients(op)
    run(first())
    assert "BTCUSDT:LONG" not in legs(px, key)

    async def again():
        op = await started(op_for(px, tmp_path, key))
        await op.tick()
        await op.tick()
        await close_clients(op)
        return op
    op = run(again())
    held = legs(px, key)
    assert held["BTCUSDT:LONG"] == -held["BTCUSDT:SHORT"] > 0
    assert held["BTCUSDT:LONG"] <= op.cfg.max_leg_notional / 50_000      # one pair's size, not two


@pytest.mark.parametrize("sides", ["both", "long only"])
def test_positions_the_operator_did_not_open_are_left_alone(px, tmp_path, key, sides):
    """Legs opened by hand (even a lone one, which the operator would close were it its own): untouched."""
    async def go():
        op = op_for(px, tmp_path, key)
        await op.setup()
        hand = ((Side.BUY, PositionSide.LONG), (Side.SELL, PositionSide.SHORT))
        for side, ps in hand if sides == "both" else hand[:1]:
            await op.long.exchange.place_order(OrderRequest("BTCUSDT", side, OrderType.MARKET, f"hand-{ps.value}",
                                                            quantity=Decimal("0.001"), position_side=ps))
        await op.adopt(await op.now_ms())
        await op.tick()
        op.next_cycle_ms = 0
        await op.tick()
        await close_clients(op)
        return op
    op = run(go())
    expect = {"BTCUSDT:LONG": Decimal("0.001"), "BTCUSDT:SHORT": Decimal("-0.001")}
    assert legs(px, key) == (expect if sides == "both" else {"BTCUSDT:LONG": Decimal("0.001")})
    assert "BTCUSDT" in op.blocked and not op.held


def test_two_accounts_when_hedge_mode_is_not_used(px, tmp_path, key):
    """SHORT_ACCOUNT=B: the long leg one-way on the instance's account, the short one-way on account B; a leg
    closed on one account closes the other."""
    async def go():
        op = make_operator(px, tmp_path, {"SHORT_ACCOUNT": "B"},
                           {"ASTER_API_KEY": key, "ASTER_API_SECRET": "s", "ASTER_ACCOUNTS": "B"})
        await started(op)
        assert op.mode == "two-account" and op.short.account == "B"
        await op.tick()
        main_legs, b_legs = legs(px, key), legs(px, "paper-b")
        assert main_legs["BTCUSDT:BOTH"] == -b_legs["BTCUSDT:BOTH"] > 0
        p = await op.short.get_position_risk("BTCUSDT")
        await op.short.exchange.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.MARKET, "by-hand-b",
                                                         quantity=p.qty, reduce_only=True))
        await op.tick()
        await close_clients(op)
        return op
    op = run(go())
    assert legs(px, key) == {} and legs(px, "paper-b") == {}
    assert any(e["event"] == "pair.closed.lone_leg" for e in op.events)


def test_volume_in_the_database_matches_the_venue_fills(px, tmp_path, key):
    """Today's volume = sum of price x qty of the venue's own fills (opens and closes of both legs)."""
    async def go():
        op = await started(op_for(px, tmp_path, key, ROTATION_JITTER_PCT=0))
        await op.tick()
        px.admin("POST", "/clock", advance_ms=91 * 60_000)
        await tick_after_jump(op)                                            # rotation: close 2, open 2
        fills = await op.long.exchange.user_trades("BTCUSDT", limit=500)
        now = op.long.exchange.now_ms()
        vol = op.db.volume_on(now, "dn1")
        await close_clients(op)
        return fills, vol
    fills, vol = run(go())
    assert len(fills) >= 6
    assert vol == sum((f.price * f.qty for f in fills), Decimal(0))


def test_the_seeds_own_defaults_on_the_paper_venue(px, tmp_path, key):
    """CAPITAL_USDT=100, LEVERAGE=15, MAX_POSITION_SIZE_PCT=1.5: legs of at most 22.5 USDT. Below one lot of
    BTC (0.001 at ~99,000): no pair, and the reason names the formula; on ETH (a lot of ~3 USDT) a pair."""
    async def go():
        op = await started(op_for(px, tmp_path, key, CAPITAL_USDT=100, TRADING_PAIRS="BTCUSDT,ETHUSDT"))
        await op.tick()
        await op.tick()
        await close_clients(op)
        return op
    op = run(go())
    held = legs(px, key)
    assert "BTCUSDT:LONG" not in held and "below the venue's minimum order" in op.size_blocked["BTCUSDT"]
    assert [e["event"] for e in op.events].count("open.size") == 1          # reported once, not every cycle
    mark = op.views["ETHUSDT"].long.mark
    assert held["ETHUSDT:LONG"] == -held["ETHUSDT:SHORT"] > 0
    assert held["ETHUSDT:LONG"] * mark <= Decimal("22.5") * Decimal("1.001")


def test_the_kill_switch_blocks_opens_never_closes(px, tmp_path, key):
    from mraster.safety.killswitch import account_key, fire, latch_path
    from mraster.settings.loader import load_settings
    from tests.deltaneutral.harness import env_for

    async def first():
        op = await started(op_for(px, tmp_path, key))
        await op.tick()                                           # a pair is held
        await close_clients(op)
    run(first())
    settings = load_settings(env={**env_for(px, tmp_path), "ASTER_API_KEY": key, "ASTER_API_SECRET": "s"},
                             cwd=tmp_path).settings
    fire(latch_path(settings), account_key(settings), "test", "margin kill-switch fired")

    async def after():
        op = await started(op_for(px, tmp_path, key))
        px.admin("POST", "/liquidate", api_key=key, account=key, symbol="BTCUSDT", positionSide="LONG")
        await op.tick()                                           # the SHORT is closed despite the latch
        assert legs(px, key) == {}
        op.next_cycle_ms = 0
        await op.tick()                                           # and no new pair is opened
        await close_clients(op)
        return op
    try:
        op = run(after())
    finally:
        px.admin("DELETE", "/price", symbol="BTCUSDT")
    assert legs(px, key) == {}
    assert "kill-switch latched" in op.admit_open("BTCUSDT", {})


def test_funding_paid_and_expected_per_pair(px, tmp_path, key):
    """A settlement at +0.1 %: the LONG pays, the SHORT receives, the pair nets about zero; the next
    settlement's expectation has the same signs."""
    async def go():
        op = await started(op_for(px, tmp_path, key))
        await op.tick()
        px.admin("POST", "/funding", symbol="BTCUSDT", rate="0.001")
        op.next_cycle_ms = 0
        await op.tick()
        await close_clients(op)
        return op
    op = run(go())
    held = op.held["BTCUSDT"]
    notional = op.views["BTCUSDT"].long.notional
    assert abs(held.funding) < notional * Decimal("0.0001")       # +0.1 % of one leg, -0.1 % of the other
    nxt = op.funding_next["BTCUSDT"]
    assert nxt["long"] < 0 < nxt["short"] or nxt["rate"] <= 0
    assert abs(nxt["net"]) < float(notional) * 0.0001


def test_a_failing_trade_database_never_stops_the_operator(px, tmp_path, key):
    """The database turns read-only (a real SQLite error on every write): the rotation still happens, the
    failure is reported, nothing is left one-legged."""
    import sqlite3
    async def go():
        op = await started(op_for(px, tmp_path, key, ROTATION_JITTER_PCT=0))
        await op.tick()
        first = op.held["BTCUSDT"].pair_id
        op.db.conn = sqlite3.connect(f"file:{op.db.path}?mode=ro", uri=True, isolation_level=None)
        px.admin("POST", "/clock", advance_ms=91 * 60_000)
        await tick_after_jump(op)
        await close_clients(op)
        return op, first
    op, first = run(go())
    held = legs(px, key)
    assert held["BTCUSDT:LONG"] == -held["BTCUSDT:SHORT"] > 0 and op.held["BTCUSDT"].pair_id != first
    assert any(e["event"] == "db.write_failed" for e in op.events)


def test_its_legs_are_claimed_for_the_guard_and_the_risk_gate(px, tmp_path, key):
    """The status file claims both legs (mraster/engines/owners.py) while they are held: the guard's scope
    ("leave") and the risk gate see them as dn1's; the claim goes with the pair."""
    from mraster.engines import load_instances
    from mraster.engines.owners import AccountOwners, read_claims

    async def go():
        op = await started(op_for(px, tmp_path, key))
        await op.tick()
        claims = read_claims(op.files.status, "main")
        owners = AccountOwners(tmp_path / "run", "main", load_instances(tmp_path / "engines.json"))
        legs_owned = {p.position_side.value: owners.owner_of_position(p)
                      for p in await op.long.exchange.positions("BTCUSDT")}
        await op.close_pair("BTCUSDT", await op.read_pair("BTCUSDT"), "manual: test", await op.now_ms())
        after = read_claims(op.files.status, "main")
        await close_clients(op)
        return claims, legs_owned, after, owners.scope_of("dn1")
    claims, owned, after, scope = run(go())
    assert claims == {("BTCUSDT", "LONG"), ("BTCUSDT", "SHORT")}
    assert owned == {"LONG": "dn1", "SHORT": "dn1"} and scope == "leave"
    assert after == frozenset()


def test_the_kernel_risk_gate_admits_each_pair(px, tmp_path, key):
    """ASTER_ACCOUNT_MAX_NOTIONAL_USDT below a pair's two legs: the gate refuses, nothing is sent."""
    async def go():
        op = make_operator(px, tmp_path, {}, {"ASTER_API_KEY": key, "ASTER_API_SECRET": "s",
                                              "ASTER_ACCOUNT_MAX_NOTIONAL_USDT": "300"})
        await started(op)
        await op.tick()
        await close_clients(op)
        return op
    op = run(go())
    assert legs(px, key) == {}
    refused = [e for e in op.events if e["event"] == "open.refused"]
    assert refused and "risk gate (main)" in refused[0]["text"]
    assert "ASTER_ACCOUNT_MAX_NOTIONAL_USDT" in refused[0]["text"]
    assert op.db.__class__(tmp_path / "journal.sqlite").trades("dn1") == []


def test_a_pair_the_venue_does_not_list_stops_the_start_with_its_name_and_no_order(px, tmp_path, key):
    async def go():
        op = op_for(px, tmp_path, key, TRADING_PAIRS="BTCUSDT,NOPEUSDT")
        try:
            with pytest.raises(RuntimeError, match="TRADING_PAIRS: NOPEUSDT not listed"):
                await op.setup()
        finally:
            await close_clients(op)
    run(go())
    assert not legs(px, key)
