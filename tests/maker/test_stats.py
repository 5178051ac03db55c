"""Statistics against hand-computed fills: orders, volume, fill rate, fees, P&L and its basis points."""
from __future__ import annotations

from decimal import Decimal as D

from maker.stats import compute, format_stats, from_json
from mraster.domain.types import IncomeRecord, Side, UserTrade

T0 = 1_000_000


def trade(tid, oid, side, price, qty, fee, pnl, maker, t=T0 + 10):
    return UserTrade("BTCUSDT", tid, oid, Side(side), D(price), D(qty), D(price) * D(qty), D(fee), "USDT", D(pnl),
                     maker, t)


def records():
    return [
        {"t": T0 + 1, "ev": "placed", "kind": "maker", "cid": "maker:B.mk.1"},
        {"t": T0 + 2, "ev": "ack", "cid": "maker:B.mk.1", "order_id": 11},
        {"t": T0 + 3, "ev": "placed", "kind": "maker", "cid": "maker:B.mk.2"},
        {"t": T0 + 4, "ev": "ack", "cid": "maker:B.mk.2", "order_id": 12},
        {"t": T0 + 5, "ev": "placed", "kind": "maker", "cid": "maker:B.mk.3"},     # acknowledgement lost
        {"t": T0 + 6, "ev": "placed", "kind": "maker", "cid": "maker:B.mk.4"},
        {"t": T0 + 7, "ev": "ack", "cid": "maker:B.mk.4", "order_id": 14},         # never filled (expired)
        {"t": T0 + 8, "ev": "placed", "kind": "taker", "cid": "maker:B.tk.5"},
        {"t": T0 + 9, "ev": "ack", "cid": "maker:B.tk.5", "order_id": 15},
        {"t": T0 - 5000, "ev": "placed", "kind": "maker", "cid": "maker:B.mk.0"},   # before the window
    ]


def test_statistics_match_a_hand_computation():
    trades = [
        trade(1, 11, "BUY", "100000", "0.002", "0.02", "0", True),          # maker, 200 USD, fee 0.01 %
        trade(2, 12, "BUY", "100010", "0.001", "0.010001", "0", True),      # maker (partial), 100.01 USD
        trade(3, 12, "BUY", "100010", "0.001", "0.010001", "0", True),      # same order again
        trade(4, 15, "SELL", "99990", "0.004", "0.139986", "-0.06", False),  # taker, 399.96 USD, fee 0.035 %
        trade(5, 99, "SELL", "99990", "0.001", "0.0349965", "0", False),     # an order the journal does not know
        trade(6, 11, "BUY", "1", "1", "1", "1", True, t=T0 - 1),             # before the window: ignored
    ]
    income = [IncomeRecord("BTCUSDT", "FUNDING_FEE", D("-0.05"), "USDT", T0 + 20),
              IncomeRecord("BTCUSDT", "FUNDING_FEE", D("-9"), "USDT", T0 - 20)]
    s = compute("B", 2, trades, income, records(), T0)
    assert s.maker_orders == 4 and s.maker_filled_orders == 2 and s.fill_rate == 0.5
    assert s.taker_orders == 2                       # the journal's taker + the unknown order that took
    assert s.maker_volume == D("400.020") and s.taker_volume == D("499.950")
    assert s.fees == D("0.2149845")
    assert s.pnl == D("-0.06") - D("0.2149845") - D("0.05")
    assert round(s.pnl_bps, 4) == round(float(s.pnl / D("899.970") * 10000), 4)
    assert from_json(s.to_json()) == s


def test_output_has_the_seeds_shape():
    s = compute("B", 2, [trade(1, 11, "BUY", "100000", "0.002", "0.02", "0", True)], [], records(), T0)
    text = format_stats(s)
    assert "Server B Statistics" in text
    assert "  Taker: 1 orders, $0 volume" in text
    assert "  Maker: 4 orders, $200 volume (fill rate 25.0%)" in text
    assert "  Fees: $0.02" in text
    assert "  Realized P&L: -$0.02 (-1.00 bps)" in text


def test_an_empty_window_is_all_zero():
    s = compute("C", 6, [], [], [], T0)
    assert (s.maker_orders, s.volume, s.fill_rate, s.pnl_bps) == (0, 0, 0.0, 0.0)
