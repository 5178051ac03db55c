"""Venue fills cut into positions, matched to the bot's trades, and compared exactly."""
from __future__ import annotations

from decimal import Decimal as D

from mraster.domain.types import IncomeRecord, Side, UserTrade
from mraster.state.model import Trade
from trial.ledger import (
    attach_funding, check_trade, duplicate_entries, lifecycles, over_limit, over_notional, reconcile_ledger,
)

_ids = iter(range(1, 10_000))


def fill(symbol, side, qty, price, t, order_id, pnl="0", fee="0.01"):
    q, p = D(qty), D(price)
    return UserTrade(symbol=symbol, id=next(_ids), order_id=order_id, side=Side(side), price=p, qty=q,
                     quote_qty=q * p, commission=D(fee), commission_asset="USDT", realized_pnl=D(pnl), maker=False,
                     time=t)


def trade(tid, symbol, en_order, pnl, fees, side="LONG", status="closed", entry_time=0, **kw):
    t = Trade(trade_id=tid, symbol=symbol, side=side, status=status, entry_time_ms=entry_time,
              realized_pnl=D(pnl) if pnl is not None else None, fees=D(fees) if fees is not None else None,
              entry_qty=D("1"), exit_reason=kw.pop("exit_reason", "stop"), **kw)
    if en_order is not None:
        t.order_ids["EN"] = en_order
    return t


def day():
    """BTC long 1 -> closed in two parts; ETH short -> closed; BTC again, still open."""
    return [fill("BTCUSDT", "BUY", "1", "100", 1_000, 11, fee="0.04"),
            fill("ETHUSDT", "SELL", "2", "50", 1_500, 21, fee="0.04"),
            fill("BTCUSDT", "SELL", "0.4", "110", 2_000, 12, pnl="4", fee="0.0176"),
            fill("BTCUSDT", "SELL", "0.6", "110", 2_000, 12, pnl="6", fee="0.0264"),
            fill("ETHUSDT", "BUY", "2", "55", 3_000, 22, pnl="-10", fee="0.044"),
            fill("BTCUSDT", "BUY", "1", "120", 4_000, 13, fee="0.048")]


def test_fills_are_cut_into_positions_per_symbol():
    cycles = lifecycles(reversed(day()))             # order of arrival does not matter
    assert [(c.symbol, c.side, c.open_time, c.close_time) for c in cycles] == [
        ("BTCUSDT", "LONG", 1_000, 2_000), ("ETHUSDT", "SHORT", 1_500, 3_000), ("BTCUSDT", "LONG", 4_000, None)]
    btc = cycles[0]
    assert btc.realized_pnl == D("10") and btc.fees == D("0.0840")
    assert btc.opening_orders == [11] and btc.first_order_notional == D("100")


def test_a_flip_closes_one_position_and_opens_the_next():
    cycles = lifecycles([fill("X", "BUY", "1", "10", 1, 1), fill("X", "SELL", "3", "11", 2, 2, pnl="1")])
    assert [(c.side, c.closed) for c in cycles] == [("LONG", True), ("SHORT", False)]
    assert cycles[0].flipped


def agreeing_day():
    """day() as every source records it: two closed trades and one open, journal rows and fill sums alike."""
    closed = [trade("BTCUSDT.a", "BTCUSDT", 11, "10", "0.0840"),
              trade("ETHUSDT.b", "ETHUSDT", 21, "-10", "0.084", side="SHORT")]
    rows = {t.trade_id: {"status": "closed", "realized_pnl": str(t.realized_pnl), "fees": str(t.fees)} for t in closed}
    fills = {t.trade_id: {"realized_pnl": t.realized_pnl, "fees": t.fees} for t in closed}
    return lifecycles(day()), closed, [trade("BTCUSDT.c", "BTCUSDT", 13, None, None, status="open")], rows, fills


def test_everything_agrees_when_all_sources_sum_the_same_fills():
    cycles, closed, open_, rows, fills = agreeing_day()
    result = reconcile_ledger(closed, open_, rows, fills, cycles)
    assert result.violations == 0, [c.problems for c in result.checks] + result.problems
    assert [c.ok for c in result.checks] == [True, True]


def test_one_cent_of_difference_anywhere_is_a_violation():
    cycles = lifecycles(day())
    t = trade("BTCUSDT.a", "BTCUSDT", 11, "10", "0.0840")
    row = {"status": "closed", "realized_pnl": "10", "fees": "0.0840"}
    ok = check_trade(t, row, {"realized_pnl": D("10"), "fees": D("0.084")}, cycles[0])
    assert ok.ok
    bad_state = check_trade(trade("BTCUSDT.a", "BTCUSDT", 11, "10.01", "0.0840"), row,
                            {"realized_pnl": D("10"), "fees": D("0.084")}, cycles[0])
    assert not bad_state.ok and "realized_pnl disagree" in bad_state.problems[0]
    bad_fills = check_trade(t, row, {"realized_pnl": D("10"), "fees": D("0.0439")}, cycles[0])
    assert any("fees disagree" in p for p in bad_fills.problems)
    no_row = check_trade(t, None, None, cycles[0])
    assert "no journal row" in no_row.problems


def test_venue_positions_nobody_accounts_for_and_stale_open_trades_are_problems():
    cycles = lifecycles(day())
    closed = [trade("BTCUSDT.a", "BTCUSDT", 11, "10", "0.0840")]
    rows = {"BTCUSDT.a": {"status": "closed", "realized_pnl": "10", "fees": "0.0840"}}
    fills = {"BTCUSDT.a": {"realized_pnl": D("10"), "fees": D("0.0840")}}
    result = reconcile_ledger(closed, [], rows, fills, cycles)
    assert len(result.problems) == 2 and all("belongs to no trade" in p for p in result.problems)
    stale = reconcile_ledger(closed, [trade("ETHUSDT.b", "ETHUSDT", 21, None, None, status="open")], rows, fills,
                             cycles)
    assert any("open in the state, but its position is closed" in p for p in stale.problems)


def test_trades_missing_on_either_side_are_problems_but_an_unsent_pending_entry_is_not():
    cycles, closed, open_, rows, fills = agreeing_day()
    rows["SOLUSDT.killed"] = {"status": "pending"}          # journal written, bot killed before the state save
    assert reconcile_ledger(closed, open_, rows, fills, cycles).problems == []
    rows["SOLUSDT.lost"] = {"status": "closed"}
    ghost = trade("XRPUSDT.g", "XRPUSDT", 99, None, None, status="open", entry_time=4_500)
    result = reconcile_ledger(closed, open_ + [ghost], rows, fills, cycles)
    assert sorted(result.problems) == [
        "SOLUSDT.lost is in the journal (closed) but in neither the open nor the closed trades of the state file",
        "XRPUSDT.g is open in the state with a filled entry, but the venue never had its position"]


def test_an_entry_the_bot_dropped_unfilled_is_in_the_journal_only_and_that_is_no_problem():
    """The bot journals a dropped entry (closed, entry_unknown / entry_not_filled, no quantity) and takes it
    out of its state; a run where the venue never had it must not count it (a short trial with the momentum
    engine beside the scanner drew such an entry under the error-rate fault)."""
    cycles, closed, open_, rows, fills = agreeing_day()
    rows["XRPUSDT.d"] = {"status": "closed", "exit_reason": "entry_unknown", "entry_qty": None}
    rows["XRPUSDT.e"] = {"status": "closed", "exit_reason": "entry_not_filled", "entry_qty": None}
    assert reconcile_ledger(closed, open_, rows, fills, cycles).problems == []
    rows["XRPUSDT.f"] = {"status": "closed", "exit_reason": "entry_unknown", "entry_qty": "5"}   # it did fill
    assert reconcile_ledger(closed, open_, rows, fills, cycles).problems != []


def test_a_dropped_entry_that_the_venue_filled_is_a_problem():
    cycles = lifecycles(day())
    dropped = trade("BTCUSDT.a", "BTCUSDT", 11, None, None, exit_reason="entry_not_filled")
    dropped.entry_qty = None
    result = reconcile_ledger([dropped], [], {}, {}, cycles)
    assert any("dropped as not filled" in p for p in result.problems)


def test_adopted_trades_match_by_symbol_and_time():
    cycles = lifecycles(day())
    adopted = trade("ETHUSDT.gb", "ETHUSDT", None, "-10", "0.084", side="SHORT", entry_time=2_500, adopted=True)
    row = {"status": "closed", "realized_pnl": "-10", "fees": "0.084"}
    assert check_trade(adopted, row, {"realized_pnl": D("-10"), "fees": D("0.084")},
                       cycles[1]).ok


def test_position_limits_are_judged_when_each_position_opens():
    cycles = lifecycles(day())
    assert over_limit(cycles, max_global=2, max_per_symbol=1) == []
    problems = over_limit(cycles, max_global=1, max_per_symbol=1)
    assert len(problems) == 1 and "ETHUSDT opened at 1500 as position 2" in problems[0]


def test_notional_is_taken_from_the_entry_fills_with_the_slippage_tolerance():
    cycles = lifecycles([fill("X", "BUY", "3", "100.1", 1, 1)])      # 300.3 USDT
    assert over_notional(cycles, D("300"), D("0.002")) == []
    assert len(over_notional(cycles, D("300"), D("0.0005"))) == 1


def test_a_position_added_to_by_a_second_order_is_a_duplicate_entry():
    cycles = lifecycles([fill("X", "BUY", "1", "10", 1, 1), fill("X", "BUY", "1", "10", 2, 2),
                         fill("X", "SELL", "2", "11", 3, 3, pnl="2")])
    assert len(duplicate_entries(cycles)) == 1
    partial = lifecycles([fill("X", "BUY", "1", "10", 1, 1), fill("X", "BUY", "1", "10", 1, 1)])
    assert duplicate_entries(partial) == []


def test_funding_is_attributed_to_the_position_open_at_that_time():
    cycles = lifecycles(day())
    attach_funding(cycles, [IncomeRecord(symbol="ETHUSDT", income_type="FUNDING_FEE", income=D("-0.5"),
                                         asset="USDT", time=2_000, tran_id="1"),
                            IncomeRecord(symbol="ETHUSDT", income_type="FUNDING_FEE", income=D("9"),
                                         asset="USDT", time=9_000, tran_id="2")])
    assert cycles[1].funding == D("-0.5")


def test_a_loss_far_beyond_the_stop_or_a_liquidation_breaks_the_stop_invariant():
    from trial.results import stop_honoured_invariant

    def closed(tid, r, reason="stop"):
        t = trade(tid, "X", 1, "-1", "0.1", exit_reason=reason)
        t.r_multiple = r
        return t
    ok = stop_honoured_invariant([closed("a", -1.4), closed("b", 2.0), closed("c", -3.9)], 4.0)
    assert ok["violations"] == 0 and ok["worst_r"] == -3.9
    bad = stop_honoured_invariant([closed("a", -1.4), closed("d", -549.0, "liquidation"), closed("e", -4.5)], 4.0)
    assert bad["violations"] == 2 and "d: liquidation" in bad["details"][0]
