"""FastTP rule: trigger, thresholds, side signs, pull-in only, cooldown."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from mraster.domain.fasttp import FastTPParams, fasttp_decide, favourable_returns, in_cooldown
from mraster.domain.types import Side

from tests.bot.conftest import make_rules

P = FastTPParams(enabled=True, min_r=0.25, ret1=-0.001, ret3=-0.002, snap_atr=0.25, cooldown_s=45, mode="pull_in")
R = make_rules(tick="0.01")


def decide(**kw):
    args = dict(side=Side.BUY, entry=D(100), risk_per_unit=D(2), price=D(101), closes=[100.0, 101.5, 101.6, 101.0],
                atr=1.0, take_profit=D(104), last_action_ms=None, now_ms=1_000_000, params=P, rules=R)
    args.update(kw)
    return fasttp_decide(**args)


def test_long_fires_after_a_turn_and_snaps_toward_price():
    d = decide()     # R = 0.5; ret1 = 101/101.6 - 1 = -0.59 %
    assert d.fire and d.r_now == pytest.approx(0.5)
    assert d.new_take_profit == D("101.25")
    assert d.ret1 == pytest.approx(101.0 / 101.6 - 1)


def test_short_mirrors_signs():
    d = decide(side=Side.SELL, entry=D(100), price=D(99), closes=[100.0, 98.5, 98.4, 99.0], take_profit=D(96))
    assert d.fire and d.new_take_profit == D("98.75")
    r1, r3 = favourable_returns([100.0, 98.5, 98.4, 99.0], Side.SELL)
    assert r1 == pytest.approx(-(99.0 / 98.4 - 1)) and r3 == pytest.approx(-(99.0 / 100.0 - 1))


def test_needs_min_r():
    d = decide(price=D("100.4"))         # 0.2 R
    assert not d.fire and d.reason == "below_min_r"


def test_needs_a_reversal_by_either_threshold():
    assert decide(closes=[100.0, 100.5, 100.9, 101.0]).reason == "no_reversal"
    # 1-bar -0.05 % (not enough) but 3-bar -0.3 %: fires on ret3
    d = decide(closes=[101.3, 101.2, 101.05, 101.0])
    assert d.fire and d.ret1 > P.ret1 and d.ret3 <= P.ret3
    # exactly at the threshold fires (<=)
    edge = 99.9 / 100.0 - 1.0
    at = FastTPParams(ret1=edge, ret3=-0.5)
    assert decide(closes=[100.0, 100.0, 100.0, 99.9], params=at).fire
    assert not decide(closes=[100.0, 100.0, 100.0, 99.91], params=at).fire


def test_only_pulls_in():
    assert decide(take_profit=D("101.2")).reason == "tp_already_nearer"
    assert decide(side=Side.SELL, entry=D(100), price=D(99), closes=[100.0, 98.5, 98.4, 99.0],
                  take_profit=D("98.9")).reason == "tp_already_nearer"


def test_new_level_stays_beyond_price_by_a_tick():
    d = decide(atr=0.001)
    assert d.fire and d.new_take_profit == D("101.01")


def test_cooldown_and_disabled():
    assert decide(last_action_ms=1_000_000 - 44_999).reason == "cooldown"
    assert decide(last_action_ms=1_000_000 - 45_000).fire
    assert in_cooldown(10, 20, 0.011) and not in_cooldown(None, 20, 45)
    assert decide(params=FastTPParams(enabled=False)).reason == "disabled"
