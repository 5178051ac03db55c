"""The engines' trade database: migrations from an empty file and from the previous schema, export round
trip, today's volume and daily stats from the CLI."""
from __future__ import annotations

import json
import sqlite3
import time
from decimal import Decimal as D
from pathlib import Path

import pytest

from commands.main import main
from mraster.journal.journal import SCHEMA_VERSION as JOURNAL_VERSION, Journal
from mraster.tradedb import SCHEMA_VERSION, PositionRow, TradeDB, TradeDBError, TradeRow, migrate, read_csv, schema_version


def trade(cid: str, when: int, instance: str = "dn1", notional_qty: str = "0.01") -> TradeRow:
    return TradeRow(when, "main", instance, "BTCUSDT", "BUY", "LONG", "open", D("50000"), D(notional_qty), D("0.2"),
                    D("0"), cid, 7, "p1")


def test_from_an_empty_file(tmp_path: Path):
    db = TradeDB(tmp_path / "j.sqlite")
    assert db.migrated == list(range(1, SCHEMA_VERSION + 1))
    assert TradeDB(tmp_path / "j.sqlite").migrated == []            # idempotent
    cols = {r[1] for r in db.conn.execute("PRAGMA table_info(engine_trades)")}
    assert {"account", "instance", "client_order_id", "notional"} <= cols


def test_beside_the_scanner_journal_in_one_file(tmp_path: Path):
    j = Journal(tmp_path / "j.sqlite")
    db = TradeDB(tmp_path / "j.sqlite")
    assert db.record_trade(trade("dn1:a.1", 1000))
    assert j.conn.execute("PRAGMA user_version").fetchone()[0] == JOURNAL_VERSION   # the journal's own: untouched
    j.close()
    Journal(tmp_path / "j.sqlite").close()                               # and the journal still opens


def test_from_the_previous_schema_rows_kept(tmp_path: Path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=SCHEMA_VERSION - 1)
    conn.execute("INSERT INTO engine_trades(time_ms, symbol, side, position_side, action, price, quantity, notional, "
                 "fee, realized_pnl, client_order_id) VALUES (5, 'BTCUSDT', 'BUY', 'LONG', 'open', '100', '1', '100', "
                 "'0.04', '0', 'old-1')")
    conn.execute("INSERT INTO engine_daily_stats VALUES ('2026-01-01', '100', 1, '0.04', '0', '0', '0', 0)")
    conn.close()
    db = TradeDB(path)
    assert db.migrated == [SCHEMA_VERSION] and schema_version(db.conn) == SCHEMA_VERSION
    [row] = db.trades()
    assert (row["client_order_id"], row["account"], row["instance"]) == ("old-1", "main", "")
    assert db.daily_stats()[0]["volume"] == "100"
    assert not db.record_trade(TradeRow(5, "main", "", "BTCUSDT", "BUY", "LONG", "open", D(1), D(1), D(0), D(0),
                                        "old-1"))                   # unique per (account, client id)


def test_a_newer_file_is_refused_not_rewritten(tmp_path: Path):
    path = tmp_path / "new.sqlite"
    TradeDB(path).conn.execute("UPDATE db_migrations SET version=99 WHERE component='tradedb'")
    with pytest.raises(TradeDBError, match="newer"):
        TradeDB(path)


def test_a_failing_migration_leaves_the_file_at_its_version(tmp_path: Path):
    path = tmp_path / "f.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=1)
    conn.execute("ALTER TABLE engine_trades ADD COLUMN account TEXT")   # step 2 will collide
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn)
    assert schema_version(conn) == 1


def test_export_round_trip_and_instance_filter(tmp_path: Path):
    db = TradeDB(tmp_path / "j.sqlite")
    for i in range(3):
        db.record_trade(trade(f"dn1:a.{i}", 1000 + i))
    db.record_trade(trade("dn2:a.0", 1000, instance="dn2"))
    db.upsert_position(PositionRow("p1", "LONG", "main", "dn1", "BTCUSDT", D("0.01"), D("50000"), 1000))
    assert db.export_csv("trades", tmp_path / "t.csv") == 4
    rows = read_csv(tmp_path / "t.csv")
    assert [r["client_order_id"] for r in rows] == ["dn1:a.0", "dn1:a.1", "dn1:a.2", "dn2:a.0"]
    assert {r["notional"] for r in rows} == {"500.00"} and rows[0]["fee"] == "0.2"
    assert db.export_csv("trades", tmp_path / "t1.csv", instance="dn2") == 1
    assert db.export_csv("positions", tmp_path / "p.csv") == 1
    with pytest.raises(TradeDBError, match="unknown table"):
        db.export_csv("orders", tmp_path / "x.csv")


def _env(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "j.sqlite"
    monkeypatch.setenv("ASTER_JOURNAL_FILE", str(path))
    monkeypatch.setenv("ASTER_CONFIG_FILE", str(tmp_path / "dashboard_config.json"))
    monkeypatch.setenv("ASTER_DOTENV_FILE", str(tmp_path / ".env"))
    return path


def test_cli_init_export_volume_stats(tmp_path: Path, monkeypatch, capsys):
    path = _env(tmp_path, monkeypatch)
    assert main(["db", "export", "--table", "trades", "--csv", str(tmp_path / "x.csv")]) == 1
    assert "mraster db init" in capsys.readouterr().err
    assert main(["db", "init"]) == 0
    assert f"schema {SCHEMA_VERSION}" in capsys.readouterr().out
    now = int(time.time() * 1000)
    db = TradeDB(path)
    db.record_trade(trade("dn1:a.1", now))
    db.record_trade(trade("dn1:a.2", now, notional_qty="0.02"))
    db.record_trade(trade("dn1:a.3", now - 2 * 86_400_000))          # not today
    db.upsert_daily("2026-12-01", "dn1", "main", {"volume": D("1500"), "trades": 3, "rotations": 1})
    assert main(["db", "volume", "--instance", "dn1", "--json"]) == 0
    assert D(json.loads(capsys.readouterr().out)["volume"]) == D("1500")            # 500 + 1000
    assert main(["db", "volume"]) == 0
    assert "Today's volume: $1,500.00" in capsys.readouterr().out
    assert main(["db", "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["rotations"] == 1
    assert main(["db", "stats"]) == 0
    assert "2026-12-01" in capsys.readouterr().out
    out = tmp_path / "t.csv"
    assert main(["db", "export", "--table", "trades", "--csv", str(out)]) == 0
    assert len(read_csv(out)) == 3
