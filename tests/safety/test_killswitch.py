"""The kill-switch latch file and the per-position margin measures (mraster/safety/killswitch.py)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from mraster.domain.types import MarginType, Position, PositionSide
from paper.engine.margin import liquidation_price
from paper.engine.specs import BTC_BRACKETS, SymbolSpec
from mraster.safety.killswitch import (
    LatchReader, account_key, entries_blocked, fire, latch_path, position_margin, read_latch, reset,
)
from mraster.settings import default_settings
from tests.safety.test_closeout import RULES

D = Decimal
SPEC = SymbolSpec(RULES, BTC_BRACKETS)


def isolated(amount: str, entry: str, leverage: int, mark: str) -> tuple[Position, Decimal]:
    """A position as the venue reports it (margin, liquidation price from the venue's own formula) and
    the venue's true maintenance margin at `mark`."""
    a, ep, m = D(amount), D(entry), D(mark)
    wallet = abs(a) * ep / leverage
    liq = liquidation_price(a, ep, wallet, SPEC)
    upnl = a * (m - ep)
    p = Position("BTCUSDT", PositionSide.BOTH, a, ep, mark_price=m, unrealized_pnl=upnl, liquidation_price=liq,
                 leverage=leverage, margin_type=MarginType.ISOLATED, isolated_margin=wallet + upnl)
    return p, SPEC.maint_margin(abs(a) * m)


@pytest.mark.parametrize("amount,entry,leverage,mark", [
    ("0.01", "65000", 20, "64000"), ("0.01", "65000", 100, "64800"), ("-0.5", "3000", 10, "3100"),
    ("2", "65000", 10, "61000"),                       # 130,000 notional: a bracket with a maintenance amount
])
def test_maintenance_margin_follows_from_the_venues_liquidation_price(amount, entry, leverage, mark):
    p, true_maint = isolated(amount, entry, leverage, mark)
    m = position_margin(p)
    assert m is not None
    assert abs(m.maint - true_maint) / true_maint < D("0.05")
    assert float(m.safety_multiple) == pytest.approx(float(p.isolated_margin / true_maint), rel=0.05)
    assert m.liq_distance > 0


def test_at_or_past_the_liquidation_price_the_multiple_is_zero_and_cross_is_not_judged():
    p, _ = isolated("0.01", "65000", 100, "64800")
    past = Position(p.symbol, p.position_side, p.amount, p.entry_price, mark_price=p.liquidation_price - 1,
                    liquidation_price=p.liquidation_price, margin_type=MarginType.ISOLATED,
                    isolated_margin=D("0.1"))
    assert position_margin(past).safety_multiple == 0
    cross = Position("BTCUSDT", PositionSide.BOTH, D("0.01"), D("65000"), mark_price=D("64000"),
                     liquidation_price=D("60000"))
    assert position_margin(cross) is None


def _settings(tmp_path, **kw):
    return default_settings().with_values(run_dir=str(tmp_path / "run"), **kw)


def test_account_key_names_venue_and_key_without_revealing_them(tmp_path):
    live = _settings(tmp_path, api_key="AKEY123", api_secret="s")
    other = _settings(tmp_path, api_key="BKEY456", api_secret="s")
    paper = _settings(tmp_path, paper=True, paper_url="http://127.0.0.1:1")
    moved = _settings(tmp_path, paper=True, paper_url="http://127.0.0.1:2")
    assert account_key(live).startswith("live-") and "AKEY" not in account_key(live)
    assert account_key(live) != account_key(other)
    assert account_key(paper).startswith("paper-") and account_key(paper) == account_key(moved)


def test_fire_holds_until_reset_and_keeps_the_first_firing(tmp_path):
    s = _settings(tmp_path)
    path, acct = latch_path(s), account_key(s)
    assert entries_blocked(s) == ""
    first = fire(path, acct, "guard", "first reason", safety_multiple=D("1.1"))
    again = fire(path, acct, "guard", "second reason")
    assert first.latched and again.reason == "first reason" and again.details == {"safety_multiple": "1.1"}
    assert "first reason" in entries_blocked(s)
    done = reset(path, acct, "cli:test")
    assert not done.latched and done.reason == "first reason" and done.reset_by == "cli:test"
    assert entries_blocked(s) == ""


def test_an_unreadable_latch_counts_as_latched_and_is_kept_aside(tmp_path):
    s = _settings(tmp_path)
    path = latch_path(s)
    path.parent.mkdir(parents=True)
    path.write_text("{ not json")
    reader = LatchReader(path, account_key(s))
    latch = reader.get()
    assert latch.latched and "unreadable" in latch.reason
    assert list(path.parent.glob(path.name + ".corrupt-*")), "the bad file is kept aside"
    assert read_latch(path).latched, "and the latch written in its place holds until a person resets it"
