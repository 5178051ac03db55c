"""Margin, maintenance brackets, funding and liquidation in the pure engine."""
from __future__ import annotations

import pytest

from mraster.domain.types import ExecutionType, MarginType, OrderStatus, OrderType, PositionSide
from paper.engine import VenueError
from paper.engine.margin import liquidation_price, liquidation_prices
from paper.engine.specs import BTC_BRACKETS

from tests.paper.engine_helpers import D, T0, events, make_engine, order, position, set_price

K = "acct"


def open_long(eng, qty: str, lev: int = 20, isolated: bool = False, key: str = K):
    if isolated:
        eng.set_margin_type(key, "BTCUSDT", MarginType.ISOLATED, T0)
    eng.set_leverage(key, "BTCUSDT", lev, T0)
    return eng.place(key, order(quantity=qty), T0)


def test_brackets_are_continuous_and_match_the_recorded_rates():
    assert [str(b.mmr) for b in BTC_BRACKETS[:3]] == ["0.004", "0.005", "0.01"]
    spec = make_engine().specs["BTCUSDT"]
    assert spec.maint_margin(D("40000")) == D("160.000")                  # 0.4 %
    assert spec.maint_margin(D("100000")) == D("100000") * D("0.005") - D("50")
    edge = D("50000")
    assert spec.maint_margin(edge) == edge * D("0.004")                    # same on both sides of the edge
    assert spec.max_notional(125) == D("50000") and spec.max_notional(100) == D("250000")


@pytest.mark.parametrize("side,rate,expected", [("BUY", "0.0001", "-5.00000000"), ("SELL", "0.0001", "5.00000000"),
                                                ("BUY", "-0.0003", "15.00000000"), ("SELL", "-0.0003", "-15.00000000")])
def test_funding_sign_longs_pay_positive_rates(side, rate, expected):
    eng = make_engine(balance="100000")
    set_price(eng, "50000", top_qty="10")
    eng.place(K, order(side=side, quantity="1"), T0)
    set_price(eng, "50000")                              # mark 50000: payment = -amount x mark x rate
    wallet = eng.accounts[K].wallet
    eng.drain()
    assert eng.settle_funding("BTCUSDT", D(rate), T0 + 1) == 1
    assert eng.accounts[K].wallet - wallet == D(expected)
    out = eng.drain()
    assert [(i.income_type, str(i.income)) for i in out.incomes] == [("FUNDING_FEE", expected)]
    assert [e.reason for e in out.events] == ["FUNDING_FEE"]


def test_funding_on_an_isolated_position_moves_its_margin():
    eng = make_engine(balance="100000")
    set_price(eng, "50000", top_qty="10")
    open_long(eng, "1", lev=10, isolated=True)
    pos = eng.accounts[K].positions[("BTCUSDT", PositionSide.BOTH)]
    before = pos.isolated_wallet
    eng.settle_funding("BTCUSDT", D("0.0001"), T0 + 1)
    assert pos.isolated_wallet - before == D("-5.00000000")


def test_isolated_liquidation_price_and_liquidation():
    eng = make_engine(balance="10000")
    set_price(eng, "50000", top_qty="10")
    o = open_long(eng, "1", lev=10, isolated=True)
    entry = o.avg_price
    assert entry == D("50000.01")
    pos = eng.accounts[K].positions[("BTCUSDT", PositionSide.BOTH)]
    assert pos.isolated_wallet == D("5000.00100000")
    view = eng.view(K)
    lp = liquidation_prices(view, eng.accounts[K], eng.specs)[id(pos)]
    expected = (D("5000.001") - entry) / (D("0.004") - 1)                # (WB - Q x EP) / (Q x mmr - Q), Q = 1
    assert abs(lp - expected) < D("0.0001")
    set_price(eng, "45200")                                               # above the liquidation price
    assert position(eng, K) == D("1")
    eng.drain()
    set_price(eng, "45180.00")                                            # below it
    assert position(eng, K) == 0
    out = eng.drain()
    liq = [e for e in out.events if getattr(e, "execution_type", None) is ExecutionType.CALCULATED]
    assert len(liq) == 1 and liq[0].order.client_order_id.startswith("autoclose-")
    assert liq[0].status_override is OrderStatus.NEW_INSURANCE and liq[0].order.type is OrderType.LIQUIDATION
    assert out.liquidations and out.liquidations[0].status is OrderStatus.FILLED
    assert eng.accounts[K].wallet < D("10000") - D("4800")                 # the isolated margin is gone
    assert eng.accounts[K].wallet > D("4900")                              # ... and nothing beyond it


def test_cross_liquidation_uses_the_whole_cross_wallet():
    eng = make_engine(balance="1000")
    set_price(eng, "50000", top_qty="10")
    open_long(eng, "0.3", lev=20)
    acct = eng.accounts[K]
    pos = acct.positions[("BTCUSDT", PositionSide.BOTH)]
    lp = liquidation_prices(eng.view(K), acct, eng.specs)[id(pos)]
    expected = (acct.wallet - D("0.3") * D("50000.01")) / (D("0.3") * D("0.004") - D("0.3"))
    assert abs(lp - expected) < D("0.0001")
    assert lp == liquidation_price(D("0.3"), pos.entry_price, acct.wallet, eng.specs["BTCUSDT"])
    set_price(eng, str((lp + D("1")).quantize(D("0.01"))))
    assert position(eng, K) == D("0.3")
    set_price(eng, str((lp - D("1")).quantize(D("0.01"))))
    assert position(eng, K) == 0
    assert eng.accounts[K].wallet >= 0


def test_short_liquidation_price_is_above_entry():
    eng = make_engine(balance="1000")
    set_price(eng, "50000", top_qty="10")
    eng.place(K, order(side="SELL", quantity="0.3"), T0)
    acct = eng.accounts[K]
    pos = acct.positions[("BTCUSDT", PositionSide.BOTH)]
    lp = liquidation_prices(eng.view(K), acct, eng.specs)[id(pos)]
    assert lp > D("50000")
    set_price(eng, str((lp - D("1")).quantize(D("0.01"))))
    assert position(eng, K) == D("-0.3")
    set_price(eng, str((lp + D("1")).quantize(D("0.01"))))
    assert position(eng, K) == 0


def test_isolated_margin_follows_the_position():
    eng = make_engine(balance="100000")
    set_price(eng, "50000", top_qty="10")
    open_long(eng, "1", lev=10, isolated=True)
    acct = eng.accounts[K]
    pos = acct.positions[("BTCUSDT", PositionSide.BOTH)]
    assert acct.cross_wallet == acct.wallet - pos.isolated_wallet
    eng.place(K, order(side="SELL", quantity="0.4", reduce_only=True), T0)
    assert pos.isolated_wallet == D("3000.00060000")                     # 60 % of 5000.001 kept
    eng.place(K, order(side="SELL", quantity="0.6", reduce_only=True), T0)
    assert pos.isolated_wallet == 0 and acct.cross_wallet == acct.wallet


def test_leverage_and_margin_type_rules():
    eng = make_engine(balance="100000")
    set_price(eng, "50000", top_qty="10")
    for bad in (0, 126):
        with pytest.raises(VenueError) as e:
            eng.set_leverage(K, "BTCUSDT", bad, T0)
        assert e.value.code == -4028
    assert eng.set_leverage(K, "BTCUSDT", 10, T0) == (10, D("40000000"))   # bracket 5 (10x) caps 40M
    eng.set_margin_type(K, "BTCUSDT", MarginType.ISOLATED, T0)
    with pytest.raises(VenueError) as e:
        eng.set_margin_type(K, "BTCUSDT", MarginType.ISOLATED, T0)
    assert e.value.code == -4046
    eng.place(K, order(quantity="1.5"), T0)
    with pytest.raises(VenueError) as e:
        eng.set_leverage(K, "BTCUSDT", 5, T0)                            # lowering isolated with a position
    assert e.value.code == -4161
    with pytest.raises(VenueError) as e:
        eng.set_margin_type(K, "BTCUSDT", MarginType.CROSSED, T0)
    assert e.value.code == -4048
    with pytest.raises(VenueError) as e:
        eng.set_leverage(K, "BTCUSDT", 125, T0)                         # 75k notional above the 125x cap
    assert e.value.code == -2027
    events(eng)


def test_admin_balance_is_recorded_as_a_transfer():
    eng = make_engine(balance="1000")
    eng.account(K, T0)
    eng.drain()
    assert eng.set_balance(K, D("2500"), T0) == D("1500.00000000")
    out = eng.drain()
    assert [(i.income_type, i.income) for i in out.incomes] == [("TRANSFER", D("1500.00000000"))]
    assert out.events[0].reason == "ADMIN_DEPOSIT"


def test_margin_call_once_per_entry_into_the_warning_zone():
    from paper.engine.model import MarginCallEvent
    eng = make_engine(balance="1000")
    set_price(eng, "50000", top_qty="10")
    open_long(eng, "0.3")
    eng.drain()
    calls = []
    for price in ("47000", "46900", "46890", "47500", "46900"):   # liquidation is near 46874
        set_price(eng, price)
        calls.append(sum(isinstance(e, MarginCallEvent) for e in eng.drain().events))
    assert calls == [0, 1, 0, 0, 1]
    assert position(eng, K) == D("0.3")


class _BruteForce:
    """Same engine, but every point of every bar is applied and re-examines every holder exactly
    (no safe bands, no bar shortcuts)."""

    @staticmethod
    def patch(eng):
        eng._liquidation_due = lambda m, lo, hi: True
        eng._refresh = lambda r: False

        def walk(symbol, now, points, spread_t=1):
            half = spread_t // 2
            for p in points:
                eng.update_prices(symbol, now, p, p, p - half, p - half + spread_t)
        eng.update_path = walk
        return eng


def test_safe_bands_liquidate_exactly_when_a_brute_force_check_does():
    import random
    symbols = ("BTCUSDT", "ETHUSDT")
    rng = random.Random(20260221)
    fast, brute = make_engine(symbols, balance="3000"), _BruteForce.patch(make_engine(symbols, balance="3000"))
    start = {"BTCUSDT": 50000.0, "ETHUSDT": 2000.0}
    accounts = [(f"a{i}", rng.choice(symbols), rng.choice(["BUY", "SELL"]), rng.choice([10, 20, 50]),
                 rng.random() < 0.5, rng.uniform(0.2, 0.9)) for i in range(8)]
    for eng in (fast, brute):
        for s in symbols:
            set_price(eng, f"{start[s]:.2f}", symbol=s, top_qty="1000")
        for key, s, side, lev, iso, share in accounts:
            if iso:
                eng.set_margin_type(key, s, MarginType.ISOLATED, T0)
            eng.set_leverage(key, s, lev, T0)
            qty = D(str(round(3000 * lev * share / start[s], 3)))
            eng.place(key, order(symbol=s, side=side, quantity=str(qty)), T0)
        eng.drain()
    prices = dict(start)
    liquidated_at: dict[str, dict[str, int]] = {"fast": {}, "brute": {}}
    for bar in range(400):
        for s in symbols:
            base = prices[s]
            path = [base * (1 + rng.gauss(0, 0.004)) for _ in range(3)]
            prices[s] = path[-1]
            ticks = [int(round(p / 0.01)) for p in [base, *path]]
            for name, eng in (("fast", fast), ("brute", brute)):
                eng.update_path(s, T0 + bar, ticks, 2)
                for key, *_ in accounts:
                    if position(eng, key, symbol=[a for a in accounts if a[0] == key][0][1]) == 0:
                        liquidated_at[name].setdefault(key, bar)
    assert liquidated_at["fast"] == liquidated_at["brute"]
    assert len(liquidated_at["fast"]) >= 2                      # the walk did liquidate some accounts
