"""A trade whose journal write failed is rewritten after the outage whatever its time stamps say.

Found by the full trial (disk_full fault): a stop-out finalised in the cycle in which the journal first
failed carried `updated_ms` a little before the outage's first failure, so the time-window resync skipped
it and the journal kept the trade open. The state, the journal and the venue must agree."""
from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal as D
from types import SimpleNamespace

from bot.runtime.reconcile import resync_journal
from mraster.journal import Journal
from mraster.state.model import Trade


class Venue:
    """Answers the two reads the resync makes (the trade's fills and funding): nothing to add here."""
    async def user_trades(self, symbol, start_time=None, end_time=None):
        return []

    async def income(self, symbol, income_type=None, start_time=None, end_time=None):
        return []

    def now_ms(self) -> int:
        return 10_000_000


def test_failed_write_marks_the_trade_and_the_resync_rewrites_it_despite_older_stamps(tmp_path):
    errors: list[str] = []
    journal = Journal(tmp_path / "j.sqlite", on_write_error=lambda what, exc: errors.append(what))
    trade = Trade("BNBUSDT.x1", "BNBUSDT", "LONG", status="open", qty=D("0.5"), entry_price=D("588.61"),
                  entry_time_ms=1_000)
    journal.upsert_trade(trade)
    # the stop-out is finalised (stamped at 5_000), then its journal write fails (the outage starts at 5_100)
    closed = Trade("BNBUSDT.x1", "BNBUSDT", "LONG", status="closed", qty=D("0.5"), entry_price=D("588.61"),
                   entry_time_ms=1_000, exit_price=D("587.25"), exit_time_ms=4_900, exit_reason="stop",
                   realized_pnl=D("-0.68"))
    closed.updated_ms = 5_000
    real, dead = journal.conn, sqlite3.connect(":memory:")
    dead.close()
    journal.conn = dead                     # the next write fails with an SQLite error, as on a full disk
    journal.upsert_trade(closed)
    journal.conn = real
    assert errors == ["journal"] and journal.unwritten_trades == {"BNBUSDT.x1"}
    assert journal.trade_row("BNBUSDT.x1")["status"] == "open"

    rt = SimpleNamespace(journal=journal, exchange=Venue(), disk_errors={}, journal_resync_from=5_100,
                         state=SimpleNamespace(open_trades={}, closed_trades=[closed]), now_ms=lambda: 10_000_000)
    asyncio.run(resync_journal(rt, 5_100))
    row = journal.trade_row("BNBUSDT.x1")
    assert row["status"] == "closed" and D(row["realized_pnl"]) == D("-0.68")
    assert journal.unwritten_trades == set() and rt.journal_resync_from is None
    journal.close()
