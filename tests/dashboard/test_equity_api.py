"""Issue 15 through a real dashboard server: trades of several engine instances on two accounts carry their
own engine and account and the filters split them (journal rows, a momentum row written before it named
itself, a delta-neutral leg); /api/equity answers per engine and, sampled from a real paper exchange, per
account, and the samples survive a dashboard restart."""
from __future__ import annotations

import csv
import io
import sqlite3
from decimal import Decimal as D

import pytest

from mraster.journal import Journal
from mraster.state.model import Trade
from mraster.tradedb import PositionRow, TradeDB

from tests.dashboard.conftest import wait_for

pytestmark = pytest.mark.timeout(120)
T0 = 1_767_225_600_000
HOUR = 3_600_000


def closed(tid: str, at: int, pnl: str, fees: str = "1", funding: str = "0", **kw) -> Trade:
    return Trade(tid, "BTCUSDT" if tid[0] != "e" else "ETHUSDT", "LONG", status="closed", qty=D(0), entry_qty=D("0.1"),
                 entry_price=D(60000), entry_time_ms=at - HOUR, exit_price=D(60100), exit_time_ms=at,
                 exit_reason="take_profit", realized_pnl=D(pnl), fees=D(fees), funding=D(funding), **kw)


def write_history(path) -> None:
    """Two scanner trades on main, two of momentum instance mom1 on B, one momentum row of mom2 written
    before momentum named itself in the journal (main/scanner columns, its client ids name it), and one
    closed delta-neutral leg of dn1 on B."""
    scanner, mom1 = Journal(path), Journal(path, account="B", instance="mom1")
    scanner.upsert_trade(closed("s1", T0 + HOUR, "10", client_ids={"EN": "mr-s1-EN"}))
    scanner.upsert_trade(closed("s2", T0 + 3 * HOUR, "-4", client_ids={"EN": "mr-s2-EN"}))
    mom1.upsert_trade(closed("m1", T0 + 2 * HOUR, "6", fees="0.5", funding="-0.5"))
    mom1.upsert_trade(closed("e2", T0 + 4 * HOUR, "-2", fees="0"))
    scanner.upsert_trade(closed("x1", T0 + 5 * HOUR, "3", client_ids={"TP": "mom2:BTCUSDT.TP.mx1"}))
    scanner.close()
    mom1.close()
    db = TradeDB(path)
    db.upsert_position(PositionRow("BTCUSDT.p1", "SHORT", "B", "dn1", "BTCUSDT", D("0.2"), D(60000), T0, "closed",
                                   T0 + 6 * HOUR, D(59900), D(20), D(2), D(1), "rotation"))
    db.upsert_position(PositionRow("BTCUSDT.p2", "LONG", "B", "dn1", "BTCUSDT", D("0.2"), D(60000), T0))   # open
    db.close()


def test_trades_carry_their_engine_and_account_and_the_filters_split_them(workspace, serve, client_for):
    workspace.dotenv_file.write_text("ASTER_ACCOUNTS=B\n")
    workspace.dotenv_file.chmod(0o600)
    write_history(workspace.root / "aster_journal.sqlite")
    api = client_for(serve())

    page = api.get("/api/trades").json()
    owners = {r["trade_id"]: (r["engine"], r["account"]) for r in page["trades"]}
    assert owners == {"s1": ("scanner", "main"), "s2": ("scanner", "main"), "m1": ("mom1", "B"), "e2": ("mom1", "B"),
                      "x1": ("mom2", "main"), "dn1:BTCUSDT.p1:SHORT": ("dn1", "B")}
    assert page["facets"]["engine"] == ["dn1", "mom1", "mom2", "scanner"]
    assert page["facets"]["account"] == ["B", "main"]

    def ids(**params):
        return sorted(r["trade_id"] for r in api.get("/api/trades", params=params).json()["trades"])
    assert ids(engine="mom1") == ["e2", "m1"]
    assert ids(account="B") == ["dn1:BTCUSDT.p1:SHORT", "e2", "m1"]
    assert ids(account="main", engine="scanner") == ["s1", "s2"]
    assert ids(account="main", engine="mom1") == []
    assert ids(engine="dn1", reason="rotation") == ["dn1:BTCUSDT.p1:SHORT"]
    mom = api.get("/api/trades", params={"engine": "mom1"}).json()
    assert mom["total"] == 2 and mom["net_pnl"] == pytest.approx(5.0 - 2.0)

    table = list(csv.DictReader(io.StringIO(api.get("/api/trades.csv", params={"account": "B"}).text)))
    assert {(r["trade_id"], r["engine"], r["account"]) for r in table} == {
        ("m1", "mom1", "B"), ("e2", "mom1", "B"), ("dn1:BTCUSDT.p1:SHORT", "dn1", "B")}

    listing = api.get("/api/equity").json()
    assert [a["name"] for a in listing["accounts"]] == ["main", "B"]
    engines = {e["name"]: e for e in listing["engines"]}
    assert engines["scanner"]["kind"] == "scanner" and engines["scanner"]["trades"] == 2
    assert {n: e["trades"] for n, e in engines.items()} == {"scanner": 2, "mom1": 2, "mom2": 1, "dn1": 1}

    curve = api.get("/api/equity", params={"engine": "scanner"}).json()
    assert [p[1] for p in curve["points"]] == [0, 9, 4]          # +10 - 1 fee, then -4 - 1 fee
    assert curve["max_drawdown"]["amount"] == -5 and curve["max_drawdown"]["pct"] is None
    assert curve["relative"] is False and curve["trades"] == 2 and curve["last"] == 4
    assert [p[1] for p in api.get("/api/equity", params={"engine": "mom1"}).json()["points"]] == [0, 5, 3]
    assert api.get("/api/equity", params={"engine": "nobody"}).status_code == 404
    assert api.get("/api/equity", params={"account": "nobody"}).status_code == 404
    assert api.get("/api/equity", params={"account": "main", "engine": "scanner"}).status_code == 422


def stored(path, account: str) -> list[tuple[int, float]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT time_ms, equity FROM equity WHERE account=? ORDER BY time_ms",
                            (account,)).fetchall()


def test_account_equity_is_sampled_from_the_venue_per_account_and_survives_a_restart(workspace, serve, client_for,
                                                                                      tmp_path_factory):
    from paper.testing import PaperExchange

    with PaperExchange(tmp_path_factory.mktemp("px-equity"), symbols=("BTCUSDT",), seed=5) as px:
        workspace.write_config({"ASTER_PAPER": True, "ASTER_PAPER_URL": px.url})
        workspace.dotenv_file.write_text("ASTER_ACCOUNTS=B\n")
        workspace.dotenv_file.chmod(0o600)
        server = serve(exchange_factory=None, venue_ttl=0.2, equity_interval=0.3)
        api = client_for(server)
        answers = wait_for(lambda: (lambda pair: pair if all(a["samples"] >= 2 and not a["problem"] for a in pair)
                                    else None)(
            [api.get("/api/equity", params={"account": name}).json() for name in ("main", "B")]),
            30, interval=0.1, what="two samples per account, the last one taken")
        for answer in answers:
            assert answer["relative"] is True
            assert answer["last"] == pytest.approx(10_000.0), "the paper account's wallet, nothing unrealized"
            assert answer["max_drawdown"]["amount"] == 0
            assert all(b[0] >= a[0] for a, b in zip(answer["points"], answer["points"][1:]))
        server.stop()

        path = workspace.run_dir / "equity.sqlite"
        before = stored(path, "B")
        assert len(before) >= 2
        again = client_for(serve(exchange_factory=None, venue_ttl=0.2, equity_interval=3600))
        after = again.get("/api/equity", params={"account": "B"}).json()
        assert [tuple(p) for p in after["points"][:len(before)]] == [(t, v) for t, v in before]
        listing = again.get("/api/equity").json()
        assert {a["name"]: a["samples"] >= len(before) for a in listing["accounts"]} == {"main": True, "B": True}
