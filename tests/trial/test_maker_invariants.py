"""The maker trial's invariant trackers on hand-made snapshots: each catches what it must, and only that."""
from __future__ import annotations

from decimal import Decimal as D

from mraster.domain.types import Side, UserTrade
from trial.maker import invariants as inv


def snap(t, b="0", c="0", orders=None):
    return inv.Snapshot(t, {"B": D(b), "C": D(c)}, orders or {"B": [], "C": []})


def test_exposure_episodes_are_judged_by_their_time_outside_blind_windows():
    tr = inv.ExposureTracker(D("0.04"), D("0.002"), limit_s=2.0)
    for t, b, c in [(0, "0.002", "0"), (1000, "0.004", "0"), (2500, "0.004", "0"), (3500, "0.004", "-0.004"),
                    (10_000, "0.006", "0"), (17_000, "0.002", "-0.002")]:
        tr.observe(snap(t, b, c))
    strict = tr.violations()
    assert len(strict) == 2 and "2.50 s" in strict[0] and "7.00 s" in strict[1]
    assert tr.longest_s() == 7.0 and len(tr.episodes) == 2                  # 0.002 alone is within the cap
    strict = tr.violations(blind=[(9000, 16_000)])                          # a leg not visible: 6 s not charged
    assert len(strict) == 1 and "2.50 s" in strict[0]
    assert tr.blind_episodes([(9000, 16_000)]) == ["net 0.006 with B 0.006 C 0: 7.00 s in all, 1.00 s outside the window"]


def test_expiry_and_silence_trackers():
    order = {"clientOrderId": "maker:B.mk.1", "time": 1000}
    foreign = {"clientOrderId": "manual-1", "time": 0}
    ex = inv.ExpiryTracker("maker", 5.0, countdown_s=3.0)
    ex.observe(snap(6900, orders={"B": [order, foreign], "C": []}))
    assert ex.violations() == []
    ex.observe(snap(7100, orders={"B": [order], "C": []}))
    assert len(ex.violations()) == 1 and ex.oldest_s() == 6.1
    ex.killed("B", 5000)                 # its executor died at 5 s: the venue's countdown (3 s) cancels it
    assert ex.violations() == []         # limit 4 + 3 + 1 = 8 s
    ex.observe(snap(9100, orders={"B": [order], "C": []}))
    assert ex.violations() == ["maker:B.mk.1 rested 8.10 s (limit 8.00 s)"]
    si = inv.SilenceTracker(timeout_s=3.0)
    si.open("B", 10_000, "cut")
    si.observe(snap(13_500, orders={"B": [order], "C": []}))       # inside the timeout + 1 s grace: allowed
    assert si.violations() == []
    si.observe(snap(14_100, orders={"B": [], "C": [order]}))       # C is not silent
    assert si.violations() == []
    si.observe(snap(14_200, orders={"B": [{"clientOrderId": "maker:B.mk.2", "time": 14_150}], "C": []}))
    assert len(si.violations()) == 1 and "placed" in si.violations()[0]
    si.close("B", 15_000)
    si.observe(snap(16_000, orders={"B": [order], "C": []}))
    assert len(si.violations()) == 1


def trade(i, side, qty, price, maker=True, fee="0.01", pnl="0"):
    return UserTrade("BTCUSDT", i, i, Side(side), D(price), D(qty), D(price) * D(qty), D(fee), "USDT", D(pnl),
                     maker, 1000 + i)


def test_limits_replay_fills_and_stats_recount():
    trades = [trade(1, "BUY", "0.004", "100000"), trade(2, "BUY", "0.002", "100000"),
              trade(3, "SELL", "0.003", "110000", maker=False, pnl="3")]
    assert inv.limit_violations("B", trades, D("600")) == []
    assert len(inv.limit_violations("B", trades, D("500"))) == 1          # 0.006 x 100000 = 600 > 505
    r = inv.recount(trades, D("-0.5"), [{"t": 1, "ev": "placed", "kind": "maker", "cid": "a"},
                                         {"t": 2, "ev": "placed", "kind": "taker", "cid": "b"}], 0)
    assert (r.volume, r.maker_volume, r.fees, r.pnl, r.fills) == (D("930.000"), D("600.000"), D("0.03"),
                                                                  D("2.47"), 3)
    stats = {"volume": "930.000", "maker_volume": "600.000", "fees": "0.03", "pnl": "2.47", "fills": 3,
             "maker_orders": 1}
    assert inv.stats_differences("B", stats, r) == []
    assert inv.stats_differences("B", {**stats, "fees": "0.04"}, r) == ["B: statistics fees 0.04 != recomputed 0.03"]
