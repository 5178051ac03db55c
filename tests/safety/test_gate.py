"""The account's risk gate: kill-switch latch, symbol held by another owner, account caps, reservations."""
from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal as D

import pytest

from mraster.domain.types import Position, PositionSide, Side
from mraster.exchange.errors import RetryableError
from mraster.safety.gate import RiskGate
from mraster.safety.killswitch import fire, latch_path
from mraster.settings import load_settings


class Venue:
    def __init__(self, positions=(), fail: bool = False):
        self.held, self.fail = list(positions), fail

    async def positions(self, symbol=None):
        if self.fail:
            raise RetryableError("503 from the venue")
        return list(self.held)


def pos(symbol: str, amount: str, mark: str = "100") -> Position:
    return Position(symbol, PositionSide.BOTH, D(amount), D(mark), mark_price=D(mark))


@pytest.fixture
def settings(tmp_path):
    s = load_settings(env={"ASTER_RUN_DIR": str(tmp_path / "run"), "ASTER_PAPER": "true",
                           "ASTER_CONFIG_FILE": str(tmp_path / "none.json"), "ASTER_DOTENV_FILE": str(tmp_path / "x")})
    return s.settings


async def test_default_settings_admit_as_before(settings):
    gate = RiskGate(settings, Venue([pos("BTCUSDT", "5")]), owner_of=lambda p: "scanner")
    for sym in ("ETHUSDT", "SOLUSDT", "XRPUSDT", "BTCUSDT"):
        assert await gate.admit("scanner", sym, Side.BUY, D("1000000"))


async def test_the_latch_refuses_every_instance(settings):
    fire(latch_path(settings), "acct", "test", "margin")
    for inst in ("scanner", "scan2", "mk1"):
        d = await RiskGate(settings, Venue()).admit(inst, "ETHUSDT", Side.BUY, D("10"))
        assert not d and d.code == "kill_switch" and "latched" in d.reason


async def test_a_symbol_another_owner_holds_is_refused(settings):
    venue = Venue([pos("ETHUSDT", "1")])
    owners = {"ETHUSDT": "mk1"}
    gate = RiskGate(settings, venue, owner_of=lambda p: owners.get(p.symbol))
    d = await gate.admit("scan2", "ETHUSDT", Side.SELL, D("10"))
    assert not d and d.code == "symbol_held" and "mk1" in d.reason
    assert await gate.admit("mk1", "ETHUSDT", Side.BUY, D("10"))                            # its own
    owners["ETHUSDT"] = None
    assert (await gate.admit("scan2", "ETHUSDT", Side.SELL, D("10"))).code == "symbol_held"   # by hand


async def test_unreadable_positions_refuse(settings):
    d = await RiskGate(settings, Venue(fail=True)).admit("scanner", "ETHUSDT", Side.BUY, D("10"))
    assert not d and d.code == "venue_unavailable"


async def test_account_caps_hold_across_instances_and_count_reservations(settings):
    capped = replace(settings, account_max_positions=2, account_max_notional_usdt=1000.0)
    venue = Venue([pos("BTCUSDT", "2", "200")])           # 400 USDT on the account
    clock = [1000.0]
    a = RiskGate(capped, venue, owner_of=lambda p: "scan1", clock=lambda: clock[0])
    b = RiskGate(capped, venue, owner_of=lambda p: "scan1", clock=lambda: clock[0])   # another process
    assert await a.admit("scan2", "ETHUSDT", Side.BUY, D("500"))
    d = await b.admit("mk1", "SOLUSDT", Side.BUY, D("50"))          # ETH is reserved: 2 positions already
    assert not d and d.code == "account_positions"
    a.release("scan2", "ETHUSDT")                                   # that entry did not fill
    d = await b.admit("mk1", "SOLUSDT", Side.BUY, D("601"))
    assert not d and d.code == "account_notional" and "1000" in d.reason
    assert await b.admit("mk1", "SOLUSDT", Side.BUY, D("600"))
    clock[0] += 61                                                  # a reservation expires by itself
    assert await a.admit("scan2", "ETHUSDT", Side.BUY, D("600"))


async def test_random_admissions_never_exceed_the_caps(settings):
    """Seeded: instances ask in random order, fills appear at random; admitted never passes the caps."""
    rng = random.Random(7)
    capped = replace(settings, account_max_positions=3, account_max_notional_usdt=900.0)
    venue = Venue()
    gates = {name: RiskGate(capped, venue, owner_of=lambda p: p.symbol[:2].lower()) for name in ("ab", "cd", "ef")}
    for _ in range(200):
        name = rng.choice(list(gates))
        sym = name.upper() + rng.choice(["XUSDT", "YUSDT"])
        notional = D(rng.randrange(50, 400))
        if rng.random() < 0.2 and venue.held:
            venue.held.pop(rng.randrange(len(venue.held)))          # a position closes
        d = await gates[name].admit(name, sym, Side.BUY, notional)
        if d:
            if rng.random() < 0.5:
                venue.held = [p for p in venue.held if p.symbol != sym] + [pos(sym, str(notional / 100))]
            else:
                gates[name].release(name, sym)
        symbols = {p.symbol for p in venue.held}
        assert len(symbols) <= 3
        assert sum(p.amount * p.mark_price for p in venue.held) <= 900
