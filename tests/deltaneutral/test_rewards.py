"""Reward accounting against hand-computed values."""
from __future__ import annotations

from decimal import Decimal as D

from deltaneutral import rewards

MIN = 60_000
DAY = 86_400_000


def test_hold_equivalent_and_the_90_minute_multiplier():
    assert round(rewards.hold_equivalent(D("100"), 120 * MIN), 4) == D("83.3333")     # 100 x 2/24 x 10
    assert round(rewards.hold_equivalent(D("100"), 89 * MIN), 4) == D("6.1806")       # 100 x 89/1440, no multiplier
    assert rewards.hold_equivalent(D("100"), 90 * MIN) == D("62.5")                   # 100 x 1/16 x 10
    assert rewards.hold_equivalent(D("0"), 90 * MIN) == 0


def test_weekly_equivalent_counts_only_the_last_7_days_and_open_legs_up_to_now():
    now = 10 * DAY
    rows = [
        {"quantity": "0.01", "entry_price": "10000", "opened_ms": now - 2 * DAY, "closed_ms": now - 2 * DAY + 120 * MIN},
        {"quantity": "0.01", "entry_price": "10000", "opened_ms": now - 8 * DAY, "closed_ms": now - 6 * DAY},
        {"quantity": "0.02", "entry_price": "10000", "opened_ms": now - 60 * MIN, "closed_ms": None},
    ]
    # 100 x 2h/24h x 10 = 83.33; 100 x 1 day (inside) x 10 = 1000; 200 x 1h/24h x 1 = 8.33
    got = rewards.weekly_hold_equivalent(rows, now)
    assert round(got, 2) == D("1091.67")


def test_costs_per_volume():
    trades = [{"notional": "1000", "fee": "0.4"}, {"notional": "1000", "fee": "0.4"}]
    c = rewards.costs(trades, funding_received=D("-0.2"))
    assert c.volume == 2000 and c.fees == D("0.8") and c.funding_paid == D("0.2")
    assert c.fees_bps == 4.0 and c.funding_bps == 1.0 and c.per_10k == 5.0


def test_hold_progress():
    p = rewards.hold_progress(0, 91 * MIN, 90 * MIN)
    assert p["held_min"] == 91.0 and p["bonus"] and p["multiplier"] == 10.0
    assert not rewards.hold_progress(0, 30 * MIN, 90 * MIN)["bonus"]
