"""Issue 15 "equity per account and engine, with drawdown": the pure curve math on known sequences, the
store's thinning bound and its survival across a restart, the sampler, and whose trade a row is."""
from __future__ import annotations

import asyncio
import random
import sqlite3
from decimal import Decimal as D

import pytest

from mraster.state.model import Trade
from dashboard.services import curves
from dashboard.services.equity import EquitySampler, EquityService, EquityStore
from dashboard.services.trades import UNKNOWN, leg_row, trade_owner

T0 = 1_767_225_600_000          # 2026-01-01T00:00:00Z
MIN = 60_000


def series(values, step=MIN):
    return [(T0 + i * step, float(v)) for i, v in enumerate(values)]


def test_drawdown_of_a_known_equity_sequence():
    pts = series([100, 110, 99, 120, 90, 130])
    dd = curves.drawdowns(pts)
    assert [d[1] for d in dd] == [0, 0, -11, 0, -30, 0]
    assert [d[2] for d in dd] == [0, 0, -10, 0, -25, 0]
    md = curves.max_drawdown(pts, relative=True)
    assert md == {"amount": -30.0, "pct": -25.0, "peak_ms": T0 + 3 * MIN, "trough_ms": T0 + 4 * MIN,
                  "peak": 120.0, "trough": 90.0}


def test_relative_drawdown_is_chosen_by_percent_not_by_amount():
    # 50 -> 40 is -20 % (-10); 200 -> 170 is -15 % (-30): by % the first is deeper
    md = curves.max_drawdown(series([50, 40, 200, 170]), relative=True)
    assert (md["pct"], md["amount"]) == (-20.0, -10.0)
    assert curves.max_drawdown(series([50, 40, 200, 170]), relative=False)["amount"] == -30.0


def test_a_curve_that_never_falls_has_no_drawdown():
    md = curves.max_drawdown(series([1, 2, 3]), relative=True)
    assert md["amount"] == 0.0 and md["pct"] == 0.0 and md["trough_ms"] is None
    assert curves.max_drawdown([], relative=False)["amount"] == 0.0


def test_engine_curve_is_cumulative_net_pnl_with_its_drawdown_in_usdt():
    nets = [5, -8, 10, -12, 3]
    rows = [{"trade_id": f"t{i}", "entry_time_ms": T0 + i * 10 * MIN, "exit_time_ms": T0 + i * 10 * MIN + 5 * MIN,
             "net_pnl": n} for i, n in enumerate(nets)]
    rows.append({"trade_id": "open", "entry_time_ms": T0, "exit_time_ms": 0, "net_pnl": None})
    pts = curves.pnl_curve(reversed(rows))
    assert [v for _, v in pts] == [0, 5, -3, 7, -5, -2]
    assert pts[0][0] == T0 and pts[1][0] == T0 + 5 * MIN
    md = curves.max_drawdown(pts, relative=False)
    assert md["amount"] == -12.0 and md["pct"] is None
    assert (md["peak"], md["trough"]) == (7.0, -5.0)
    assert [d[1] for d in curves.drawdowns(pts)] == [0, 0, -8, 0, -12, -9]


def walk(n, seed=7, start=10_000.0, step=MIN):
    rng = random.Random(seed)
    v, out = start, []
    for i in range(n):
        v = max(1.0, v * (1 + rng.gauss(0, 0.002)))
        out.append((T0 + i * step, round(v, 6)))
    return out


def test_thinning_keeps_peaks_and_troughs_so_the_max_drawdown_survives():
    pts = walk(20_000)
    thinned = curves.fit(pts, 2000)
    assert len(thinned) <= 2004 and thinned[0] == pts[0] and thinned[-1] == pts[-1]
    assert max(v for _, v in thinned) == max(v for _, v in pts)
    assert min(v for _, v in thinned) == min(v for _, v in pts)
    full, thin = curves.max_drawdown(pts, True), curves.max_drawdown(thinned, True)
    assert thin["pct"] == pytest.approx(full["pct"], abs=0.5)
    assert curves.thin(thinned, 10 * MIN) == curves.thin(curves.thin(thinned, 10 * MIN), 10 * MIN), "idempotent"


def test_retention_is_bounded_over_months_and_idempotent():
    days = 60
    pts = walk(days * 1440)
    now = pts[-1][0] + MIN
    kept = curves.retained(pts, now)
    bound = curves.retained_bound(days * curves.DAY_MS, MIN)
    assert len(kept) <= bound < 12_000, (len(kept), bound)
    assert len(kept) < len(pts) / 10
    assert [p for p in kept if now - p[0] < curves.DAY_MS] == [p for p in pts if now - p[0] < curves.DAY_MS]
    assert curves.retained(kept, now) == kept
    assert curves.max_drawdown(kept, True)["pct"] == pytest.approx(curves.max_drawdown(pts, True)["pct"], abs=0.5)


def test_the_store_survives_a_restart_and_its_compaction_keeps_the_bound(tmp_path):
    path = tmp_path / "run" / "equity.sqlite"
    store = EquityStore(path)
    pts = walk(30 * 1440, seed=3)
    store.add_many("main", pts)
    store.add("B", T0, 500.0, 480.0, 20.0)
    store.close()

    again = EquityStore(path)
    assert again.points("main") == pts and again.points("B") == [(T0, 500.0)]
    now = pts[-1][0] + MIN
    gone = again.compact(now)
    assert again.count("main") <= curves.retained_bound(30 * curves.DAY_MS, MIN)
    assert gone == len(pts) - again.count("main")
    assert again.compact(now) == 0, "compacting twice removes nothing more"
    assert again.compact(now, max_rows=100) > 0 and again.count("main") == 100
    assert again.points("main")[-1] == pts[-1], "the cap drops the oldest samples, never the newest"
    summary = again.summary()
    assert summary["B"] == {"samples": 1, "last_ms": T0, "last": 500.0}
    again.close()


def test_an_unreadable_store_is_moved_aside_and_a_new_one_started(tmp_path):
    path = tmp_path / "equity.sqlite"
    path.write_bytes(b"not a database" * 100)
    store = EquityStore(path)
    assert "kept aside" in store.problem and list(tmp_path.glob("equity.sqlite.corrupt-*"))
    store.add("main", T0, 1.0)
    assert store.points("main") == [(T0, 1.0)]
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM equity").fetchone()[0] == 1


def test_the_sampler_stores_fresh_answers_at_the_venue_time_and_says_why_it_skipped_others(tmp_path):
    store = EquityStore(tmp_path / "equity.sqlite")
    answers = {"main": {"data": {"wallet": 1000.0, "upnl": -12.5}, "error": "", "age_s": 0.5},
               "B": {"data": {"wallet": 200.0, "upnl": 0.0}, "error": "ConnectError: refused", "age_s": 40.0},
               "C": {"data": None, "error": "waiting for the venue's answer", "age_s": None}}

    async def read():
        return answers
    now = [T0 / 1000]
    sampler = EquitySampler(store, read, interval=60, clock=lambda: now[0])
    assert asyncio.run(sampler.sample()) == {"main": 987.5}
    assert store.points("main") == [(T0 - 500, 987.5)]
    assert store.points("B") == [] and "refused" in sampler.errors["B"] and sampler.errors["C"]
    service = EquityService(store, sampler, rows=lambda: [], accounts=lambda: ["main", "B", "C"],
                            engines=lambda: [{"name": "scanner", "kind": "scanner", "account": "main"}])
    b = service.account_curve("B")
    assert b["points"] == [] and "refused" in b["problem"]
    with pytest.raises(KeyError):
        service.account_curve("nobody")
    listing = service.listing()
    assert [a["name"] for a in listing["accounts"]] == ["main", "B", "C"]
    assert listing["accounts"][0]["samples"] == 1 and listing["engines"][0]["trades"] == 0
    store.close()


def trade(tid, **kw):
    return Trade(tid, "BTCUSDT", "LONG", status="closed", entry_price=D(100), entry_time_ms=T0, **kw)


def test_whose_trade_a_row_is():
    assert trade_owner(trade("a"), "mom1") == "mom1", "the row's own instance"
    assert trade_owner(trade("b", client_ids={"EN": "mr-b-EN", "SL": "mr-b-SL"}), "scanner") == "scanner"
    # momentum wrote its rows under the default before it named itself: its client ids say whose they are
    assert trade_owner(trade("c", client_ids={"TP": "mom1:BTCUSDT.TP.mx1", "SL": "mom1:BTCUSDT.SL.mx2"}),
                       "scanner") == "mom1"
    assert trade_owner(trade("d", context={"engine": "momentum", "instance": "mom2"}), "scanner") == "mom2"
    assert trade_owner(trade("e", client_ids={"EN": "web_123"}), "") == UNKNOWN


def test_a_closed_delta_neutral_leg_is_a_history_row_with_its_owner():
    row = leg_row({"pair_id": "BTCUSDT.p1", "leg": "SHORT", "account": "B", "instance": "dn1", "symbol": "BTCUSDT",
                   "quantity": "0.5", "entry_price": "60000", "opened_ms": T0, "closed_ms": T0 + 3_600_000,
                   "exit_price": "59000", "realized_pnl": "500", "fees": "12", "funding": "-3",
                   "status": "closed", "close_reason": "lone_leg: second leg failed to open"})
    assert (row["engine"], row["account"], row["side"], row["exit_reason"]) == ("dn1", "B", "SHORT", "lone_leg")
    assert row["net_pnl"] == 485.0 and row["duration_s"] == 3600.0 and row["trade_id"] == "dn1:BTCUSDT.p1:SHORT"


def test_the_bots_own_curve_of_its_account_comes_before_the_first_sample(tmp_path):
    store = EquityStore(tmp_path / "equity.sqlite")
    store.add("main", T0, 1000.0)
    bot_curve = [[T0 - 2 * MIN, 900.0], [T0 - MIN, 950.0], [T0 + MIN, 999.0]]     # the last overlaps the samples
    service = EquityService(store, None, rows=lambda: [], accounts=lambda: ["main", "B"], engines=lambda: [],
                            earlier=lambda: ("main", bot_curve))
    main = service.account_curve("main")
    assert main["points"] == [[T0 - 2 * MIN, 900.0], [T0 - MIN, 950.0], [T0, 1000.0]] and main["from_bot"] == 2
    assert service.account_curve("B")["points"] == [] and service.account_curve("B")["from_bot"] == 0
    store.close()
