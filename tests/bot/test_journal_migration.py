"""Journal schema 1 -> 2: account and instance on every row, nothing lost, two accounts kept apart."""
from __future__ import annotations

import sqlite3
from decimal import Decimal as D

import pytest

from mraster.domain.types import IncomeRecord, Side, UserTrade
from mraster.journal import Journal
from mraster.state.model import Trade

# The schema-1 tables exactly as mraster wrote them before accounts and instances.
V1 = """
CREATE TABLE orders (id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, trade_id TEXT NOT NULL, symbol TEXT NOT NULL,
  role TEXT NOT NULL, client_id TEXT NOT NULL, action TEXT NOT NULL, request TEXT NOT NULL, status TEXT NOT NULL,
  order_id INTEGER, result TEXT, error TEXT);
CREATE TABLE fills (symbol TEXT NOT NULL, venue_id INTEGER NOT NULL, order_id INTEGER NOT NULL, trade_id TEXT NOT NULL,
  side TEXT NOT NULL, price TEXT NOT NULL, qty TEXT NOT NULL, quote_qty TEXT NOT NULL, commission TEXT NOT NULL,
  commission_asset TEXT NOT NULL, realized_pnl TEXT NOT NULL, maker INTEGER NOT NULL, time_ms INTEGER NOT NULL,
  PRIMARY KEY (symbol, venue_id));
CREATE TABLE funding (uid TEXT PRIMARY KEY, symbol TEXT NOT NULL, trade_id TEXT NOT NULL, income TEXT NOT NULL,
  asset TEXT NOT NULL, time_ms INTEGER NOT NULL);
CREATE TABLE journal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trades (trade_id TEXT PRIMARY KEY, symbol TEXT NOT NULL, side TEXT NOT NULL, status TEXT NOT NULL,
  bucket TEXT NOT NULL, adopted INTEGER NOT NULL, entry_time_ms INTEGER NOT NULL, entry_price TEXT, entry_qty TEXT,
  exit_time_ms INTEGER, exit_price TEXT, exit_reason TEXT, realized_pnl TEXT, fees TEXT, funding TEXT,
  r_multiple REAL, detail TEXT NOT NULL);
CREATE TABLE policy_events (id INTEGER PRIMARY KEY, payload TEXT);
INSERT INTO orders VALUES (1, 10, 'BTCUSDT.a1', 'BTCUSDT', 'EN', 'mr-BTCUSDT.a1-EN', 'place', '{}', 'FILLED', 5, '{}', NULL);
INSERT INTO fills VALUES ('BTCUSDT', 900, 5, 'BTCUSDT.a1', 'BUY', '100', '1', '100', '0.04', 'USDT', '0', 0, 11);
INSERT INTO funding VALUES ('tr1', 'BTCUSDT', 'BTCUSDT.a1', '-0.2', 'USDT', 12);
INSERT INTO trades VALUES ('BTCUSDT.a1', 'BTCUSDT', 'LONG', 'closed', 'M', 0, 10, '100', '1', 20, '101', 'take_profit',
  '1', '0.08', '-0.2', 1.0, '{"trade_id": "BTCUSDT.a1"}');
INSERT INTO policy_events VALUES (1, 'kept');
PRAGMA user_version=1;
"""


def fill(i: int) -> UserTrade:
    return UserTrade("BTCUSDT", i, 77, Side.SELL, D("100"), D("0.5"), D("50"), D("0.01"), "USDT", D("1"), False, 1000)


def test_an_old_journal_is_migrated_in_place_without_loss(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(V1)
    j = Journal(path, account="B", instance="scan2")
    assert j.conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert j.conn.execute("SELECT client_id, status, account, instance FROM orders").fetchall() == [
        ("mr-BTCUSDT.a1-EN", "FILLED", "main", "scanner")]
    assert j.fill_totals("BTCUSDT.a1")["fees"] == D("0.04")
    assert j.funding_total("BTCUSDT.a1") == D("-0.2")
    row = j.trade_row("BTCUSDT.a1")
    assert row is not None and row["realized_pnl"] == "1" and (row["account"], row["instance"]) == ("main", "scanner")
    assert j.conn.execute("SELECT payload FROM policy_events").fetchall() == [("kept",)]
    # new rows carry this journal's account and instance
    j.upsert_trade(Trade(trade_id="scan2:ETHUSDT.b2", symbol="ETHUSDT", side="SHORT", status="open"))
    j.order_sending(time_ms=30, trade_id="scan2:ETHUSDT.b2", symbol="ETHUSDT", role="EN",
                    client_id="scan2:ETHUSDT.b2-EN", action="place", request={})
    j.record_fills("scan2:ETHUSDT.b2", [fill(900)])          # same venue id as main's fill: another account
    j.record_funding("scan2:ETHUSDT.b2", [IncomeRecord("BTCUSDT", "FUNDING_FEE", D("0.1"), "USDT", 5, tran_id="tr1")])
    assert j.conn.execute("SELECT trade_id, account, instance FROM fills ORDER BY account").fetchall() == [
        ("scan2:ETHUSDT.b2", "B", "scan2"), ("BTCUSDT.a1", "main", "scanner")]
    assert j.conn.execute("SELECT count(*) FROM funding").fetchone() == (2,)
    assert j.trade_row("scan2:ETHUSDT.b2")["instance"] == "scan2"     # type: ignore[index]
    j.close()
    again = Journal(path)                                            # reopening does not migrate twice
    assert again.conn.execute("SELECT count(*) FROM trades").fetchone() == (2,)
    again.close()


def test_a_migration_that_fails_changes_nothing(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(V1)
        db.execute("CREATE TABLE fills_v1 (x)")                    # in the way of the rebuild
    with pytest.raises(sqlite3.Error):
        Journal(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (1,)
        assert "account" not in [c[1] for c in db.execute("PRAGMA table_info(orders)")]
        assert db.execute("SELECT count(*) FROM fills").fetchone() == (1,)


def test_a_new_journal_defaults_to_the_main_accounts_scanner(tmp_path):
    j = Journal(tmp_path / "new.sqlite")
    j.upsert_trade(Trade(trade_id="BTCUSDT.x", symbol="BTCUSDT", side="LONG", status="open"))
    assert (j.trade_row("BTCUSDT.x") or {})["account"] == "main"
    j.close()
