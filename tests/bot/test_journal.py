"""Journal: order trail, idempotent fills and funding, trade upserts, WAL."""
from __future__ import annotations

import sqlite3
from decimal import Decimal as D

from mraster.domain.types import IncomeRecord, Side, UserTrade
from mraster.journal import Journal
from mraster.state.model import Trade


def fill(i, pnl="0", fee="0.01"):
    return UserTrade("BTCUSDT", i, 77, Side.SELL, D("100"), D("0.5"), D("50"), D(fee), "USDT", D(pnl), False, 1000 + i)


def test_fills_and_funding_are_idempotent(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    assert j.record_fills("T1", [fill(1, "2"), fill(2, "-1")]) == 2
    assert j.record_fills("T1", [fill(1, "2"), fill(2, "-1"), fill(3, "0.5")]) == 1
    tot = j.fill_totals("T1")
    assert tot["realized_pnl"] == D("1.5") and tot["fees"] == D("0.03")
    inc = [IncomeRecord("BTCUSDT", "FUNDING_FEE", D("-0.2"), "USDT", 5, tran_id="9"),
           IncomeRecord("BTCUSDT", "FUNDING_FEE", D("0.1"), "USDT", 6)]
    assert j.record_funding("T1", inc) == 2 and j.record_funding("T1", inc) == 0
    assert j.funding_total("T1") == D("-0.1")
    assert j.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    j.close()


def test_order_rows_are_written_before_and_after(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    row = j.order_sending(time_ms=1, trade_id="T1", symbol="BTCUSDT", role="EN", client_id="mr-T1-EN",
                          action="place", request={"qty": "1"})
    other = sqlite3.connect(tmp_path / "j.sqlite")      # visible to another reader at once
    assert other.execute("SELECT status FROM orders WHERE id=?", (row,)).fetchone() == ("sending",)
    j.order_result(row, status="FILLED", order_id=5, result={"avg": "1"})
    assert [o["status"] for o in j.orders_for("T1")] == ["FILLED"]
    other.close()
    j.close()


def test_trade_upsert(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    t = Trade(trade_id="T1", symbol="BTCUSDT", side="LONG", status="pending", qty=D(1))
    j.upsert_trade(t)
    t.status, t.exit_reason, t.r_multiple, t.realized_pnl = "closed", "stop", -1.0, D("-2")
    j.upsert_trade(t)
    row = j.trade_row("T1")
    assert row["status"] == "closed" and row["exit_reason"] == "stop" and row["realized_pnl"] == "-2"
    j.close()
    again = Journal(tmp_path / "j.sqlite")            # reopening keeps the data and the schema version
    assert again.trade_row("T1")["r_multiple"] == -1.0
    again.close()
