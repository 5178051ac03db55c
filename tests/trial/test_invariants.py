"""The monitor's pure trackers: stop gaps and duplicate slots measured from venue snapshots."""
from __future__ import annotations

from decimal import Decimal

from trial.invariants import EpisodeTracker, duplicates, parse_account, unprotected


def order(oid, cid, type_="STOP_MARKET", side="SELL", close=True, reduce=True, qty="0", symbol="BTCUSDT",
          position_side="BOTH"):
    return {"orderId": oid, "symbol": symbol, "clientOrderId": cid, "type": type_, "side": side,
            "positionSide": position_side, "reduceOnly": reduce, "closePosition": close, "origQty": qty,
            "executedQty": "0"}


def account(amount="0.5", orders=(), symbol="BTCUSDT"):
    return {"positions": [{"symbol": symbol, "positionSide": "BOTH", "amount": amount, "entryPrice": "100"}],
            "open_orders": list(orders)}


def test_close_position_stop_on_the_exit_side_protects():
    pos, orders = parse_account(account(orders=[order(1, "mr-BTCUSDT.abc-SL")]))
    assert unprotected(pos, orders) == {}


def test_stop_on_the_wrong_side_or_too_small_or_a_take_profit_does_not_protect():
    for o in (order(1, "x", side="BUY"),                                      # entry side: opens more
              order(2, "x", close=False, reduce=True, qty="0.2"),             # covers 0.2 of 0.5
              order(3, "x", type_="TAKE_PROFIT_MARKET"),                      # not a stop
              order(4, "x", close=False, reduce=False, qty="0.5")):           # one-way, not reduce-only
        pos, orders = parse_account(account(orders=[o]))
        assert list(unprotected(pos, orders)) == [("BTCUSDT", "BOTH")], o


def test_short_position_needs_a_buy_stop_and_a_reduce_only_stop_of_full_size_counts():
    pos, orders = parse_account(account(amount="-3", orders=[order(1, "x", side="BUY", close=False, qty="3")]))
    assert unprotected(pos, orders) == {}


def test_flat_positions_are_ignored():
    pos, _ = parse_account(account(amount="0"))
    assert pos == []


def test_gap_is_measured_from_first_to_last_sighting_and_violates_only_past_the_limit():
    t = EpisodeTracker(limit_s=2.0)
    key = {("BTCUSDT", "BOTH"): "no stop"}
    t.observe(100.0, 1_000, {})
    t.observe(100.2, 1_024, key)          # gap starts (after 100.0 at the earliest)
    t.observe(101.9, 1_228, key)
    t.observe(102.1, 1_252, {})           # stop back: 1.9 s
    assert t.violations == 0
    gap = t.longest()
    assert abs(gap.length_s(102.1) - 1.9) < 1e-9
    assert gap.to_json(102.1, 1_252)["at_most_s"] == 2.1
    assert gap.venue_length_ms(1_252) == 228
    t.observe(110.0, 2_000, key)
    t.observe(112.5, 2_300, key)          # still open and past the limit: counted once
    t.observe(113.0, 2_360, key)
    t.observe(113.2, 2_384, {})
    assert t.violations == 1
    assert len(t.episodes()) == 2


def test_an_open_gap_is_closed_and_judged_at_finish():
    t = EpisodeTracker(limit_s=2.0)
    t.observe(0.0, 0, {("A", "BOTH"): "x"})
    t.observe(3.0, 360, {("A", "BOTH"): "x"})
    t.finish()
    assert not t.open and t.violations == 1 and t.closed[0].end_wall == 3.0


def test_duplicates_per_trade_role_and_per_position_slot():
    pos, orders = parse_account(account(orders=[order(1, "mr-BTCUSDT.abc-SL"), order(2, "mr-BTCUSDT.abc-SX")]))
    found = duplicates(pos, orders)
    assert ("trade", "BTCUSDT.abc", "stop") in found
    assert ("slot", "BTCUSDT", "BOTH", "stop") in found
    pos, orders = parse_account(account(orders=[order(1, "mr-BTCUSDT.abc-SL"),
                                                order(2, "mr-BTCUSDT.abc-TP", type_="TAKE_PROFIT_MARKET")]))
    assert duplicates(pos, orders) == {}
    # someone else's second stop on the same position is a duplicate slot too
    pos, orders = parse_account(account(orders=[order(1, "mr-BTCUSDT.abc-SL"), order(2, "manual-1")]))
    assert list(duplicates(pos, orders)) == [("slot", "BTCUSDT", "BOTH", "stop")]


def test_a_replacement_overlap_within_the_grace_is_not_a_violation():
    t = EpisodeTracker(limit_s=2.0)
    dup = {("slot", "BTCUSDT", "BOTH", "stop"): "2 stops"}
    t.observe(0.0, 0, {})
    t.observe(0.15, 18, dup)
    t.observe(0.30, 36, {})
    assert t.violations == 0 and len(t.episodes()) == 1
    assert Decimal(str(round(t.longest().length_s(0.3), 2))) == Decimal("0.15")


def test_momentum_account_one_order_of_each_exit_type_is_not_a_duplicate():
    """The momentum engine arms a stop, a take-profit and a trailing stop together: for its account the
    slots are per type, so those three are fine and a second of any type is a duplicate."""
    from trial.invariants import duplicates_by_type
    three = [order(1, "m1:BTCUSDT.SL.a", close=False, qty="0.5"),
             order(2, "m1:BTCUSDT.TP.a", type_="TAKE_PROFIT_MARKET", close=False, qty="0.5"),
             order(3, "m1:BTCUSDT.TR.a", type_="TRAILING_STOP_MARKET", close=False, qty="0.5")]
    pos, orders = parse_account(account(orders=three))
    assert duplicates_by_type(pos, orders) == {} and unprotected(pos, orders) == {}
    assert duplicates(pos, orders) != {}          # the scanner's rule would count TP + trailing twice
    pos, orders = parse_account(account(orders=three + [order(4, "m1:BTCUSDT.TR.b", type_="TRAILING_STOP_MARKET",
                                                              close=False, qty="0.5")]))
    assert list(duplicates_by_type(pos, orders)) == [("slot", "BTCUSDT", "BOTH", "trailing")]
