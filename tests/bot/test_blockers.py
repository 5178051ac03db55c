"""Each blocker and the heuristic edge, on hand-made values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mraster.signals import (FilterParams, costs_in_r, funding_blocked, heuristic_edge, heuristic_win_prob, screen,
                            spread_blocked, wickiness_blocked)


def test_spread_is_a_fraction_of_mid():
    assert not spread_blocked(0.009, 0.009)
    assert spread_blocked(0.0091, 0.009)
    assert spread_blocked(float("nan"), 0.009)
    assert list(spread_blocked(np.array([0.001, 0.02]), 0.009)) == [False, True]


def test_wickiness_limit_and_unknown():
    assert not wickiness_blocked(0.985, 0.985)
    assert wickiness_blocked(0.99, 0.985)
    assert wickiness_blocked(float("nan"), 0.985)


@pytest.mark.parametrize("side,rate,blocked", [
    (1, 0.001, False), (1, 0.0011, True), (1, -0.05, False),
    (-1, -0.001, False), (-1, -0.0011, True), (-1, 0.05, False)])
def test_funding_blocks_the_paying_side(side, rate, blocked):
    assert funding_blocked(side, rate, 0.001, 0.001) is blocked
    assert funding_blocked(side, rate, 0.001, 0.001, enabled=False) is False


def test_heuristic_edge_formula():
    rr = 2.0 / 1.3
    p_neutral = 1 / (1 + rr)
    assert heuristic_win_prob(50.0, rr) == pytest.approx(p_neutral)
    assert heuristic_edge(50.0, rr, 0.0) == pytest.approx(0.0, abs=1e-12)   # no edge at RSI 50
    # edge = strength * (1 + rr) - costs below the cap
    assert heuristic_edge(60.0, rr, 0.1) == pytest.approx(0.2 * (1 + rr) - 0.1)
    assert heuristic_edge(40.0, rr, 0.1) == pytest.approx(0.2 * (1 + rr) - 0.1)
    assert heuristic_win_prob(99.0, rr) == pytest.approx(0.9)              # capped
    assert heuristic_edge(99.0, rr, 0.0) == pytest.approx(0.9 * rr - 0.1)


def test_costs_in_r():
    # price 100, fee 0.0004 -> 0.08 of fees, spread 0.02, stop distance 1.0 -> 0.1 R
    assert costs_in_r(100.0, 0.02, 0.0004, 1.0) == pytest.approx(0.1)
    assert math.isinf(costs_in_r(100.0, 0.02, 0.0004, 0.0))


def test_screen_order_and_reasons():
    p = FilterParams()
    ok = dict(side=1, aligned=True, raw_side=1, spread_frac=0.001, wick=0.5, funding_rate=0.0)
    assert screen(**ok, params=p) is None
    assert screen(**{**ok, "raw_side": 0, "side": 0}, params=p) == "no_signal"
    assert screen(**{**ok, "aligned": False, "side": 0}, params=p) == "htf_disagree"
    assert screen(**{**ok, "spread_frac": 0.02, "wick": 0.999}, params=p) == "spread"   # first reason wins
    assert screen(**{**ok, "wick": 0.999}, params=p) == "wickiness"
    assert screen(**{**ok, "funding_rate": 0.002}, params=p) == "funding"
    assert screen(**{**ok, "side": -1, "raw_side": -1, "funding_rate": 0.002}, params=p) is None
    assert screen(**{**ok, "funding_rate": 0.002}, params=FilterParams(funding_enabled=False)) is None
