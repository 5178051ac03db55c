"""One check against an in-memory venue: levels from state or ATR, the kill-switch, the executor's
handling of the venue's answers, and verification rounds."""
from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest

from mraster.domain.brackets import bracket_prices
from mraster.domain.ids import Role, client_order_id, trade_id_for_adopted
from mraster.domain.rules import fmt
from mraster.domain.types import Kline, OrderType, PositionSide, Side, WorkingType
from mraster.exchange.errors import RequestError
from mraster.state import BotState, StateStore, Trade
from guard.executor import Executor
from guard.reconcile import Reconciler

from tests.guard.builders import RULES

D = Decimal
TRADE = "BTCUSDT.lq3k2x1a"


def write_state(path: str | Path, *trades: Trade) -> None:
    StateStore(path).save(BotState(open_trades={t.trade_id: t for t in trades}))


def long_trade(**kw) -> Trade:
    base = dict(trade_id=TRADE, symbol="BTCUSDT", side="LONG", status="open", qty=D("0.5"), entry_price=D("30000"),
                stop_price=D("29000"), take_profit_price=D("32000"))
    base.update(kw)
    return Trade(**base)


def reconciler(fake, settings) -> Reconciler:
    return Reconciler(fake, settings, state_path=Path(settings.state_file), executor=Executor(fake))


def exits(fake, symbol="BTCUSDT"):
    return sorted((o.client_order_id, o.type.value, fmt(o.stop_price)) for o in fake.open(symbol))


async def test_unprotected_position_gets_the_bots_levels_under_the_bots_ids(fake, settings):
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    report = await reconciler(fake, settings).check()
    assert exits(fake) == [(client_order_id(TRADE, Role.STOP), "STOP_MARKET", "29000"),
                           (client_order_id(TRADE, Role.TAKE_PROFIT), "TAKE_PROFIT_MARKET", "32000")]
    assert report.settled and report.actions == 2
    assert [v.protected for v in report.views] == [True]       # verified by a second round
    placed = [c[1] for c in fake.calls if c[0] == "place_order"]
    assert all(r.working_type is WorkingType.MARK_PRICE and r.close_position for r in placed)


def klines(n=60, start=1_699_000_000_000, step=300_000, price=30000.0, swing=150.0):
    return [Kline(open_time=start + i * step, open=price, high=price + swing, low=price - swing, close=price,
                  volume=1.0, close_time=start + (i + 1) * step - 1) for i in range(n)]


async def test_without_state_levels_are_computed_from_atr_like_the_bot(fake, settings):
    fake.set_position("ETHUSDT", "-2", "2000")
    fake.klines_by_symbol["ETHUSDT"] = klines(price=2000.0, swing=10.0)
    rec = reconciler(fake, settings)
    report = await rec.check()
    expected = bracket_prices(D("2000"), Side.SELL, 20.0, settings.sl_atr_mult, settings.tp_atr_mult,
                              RULES["ETHUSDT"])
    adopted = trade_id_for_adopted("ETHUSDT")
    assert exits(fake, "ETHUSDT") == [(client_order_id(adopted, Role.STOP), "STOP_MARKET", fmt(expected.stop)),
                                      (client_order_id(adopted, Role.TAKE_PROFIT), "TAKE_PROFIT_MARKET",
                                       fmt(expected.take_profit))]
    assert report.settled
    await rec.check()                  # nothing to do, and ATR not fetched again
    assert [c for c in fake.calls if c[0] == "klines"] == [("klines", "ETHUSDT")]


async def test_the_trades_atr_is_used_when_its_levels_are_missing(fake, settings):
    write_state(settings.state_file, long_trade(stop_price=None, take_profit_price=None, atr=100.0))
    fake.set_position("BTCUSDT", "0.5", "30000")
    await reconciler(fake, settings).check()
    assert [e[2] for e in exits(fake)] == ["29870", "30200"]     # 1.3 and 2.0 ATR from the entry
    assert not [c for c in fake.calls if c[0] == "klines"]


async def test_state_levels_that_do_not_fit_the_position_are_not_used(fake, settings):
    write_state(settings.state_file, long_trade(take_profit_price=D("29500")))    # below entry for a long
    fake.set_position("BTCUSDT", "0.5", "30000")
    fake.klines_by_symbol["BTCUSDT"] = klines()
    await reconciler(fake, settings).check()
    levels = dict((e[1], D(e[2])) for e in exits(fake))
    assert levels["STOP_MARKET"] == D("29000") and levels["TAKE_PROFIT_MARKET"] == D("30600")


async def test_stop_crossed_closes_the_position_and_cleans_up(fake, settings):
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000", mark="28900")
    fake.add_order(symbol="BTCUSDT", client_order_id=client_order_id(TRADE, Role.TAKE_PROFIT), side=Side.SELL,
                   type=OrderType.TAKE_PROFIT_MARKET, orig_qty=D(0), stop_price=D("32000"), close_position=True,
                   working_type=WorkingType.MARK_PRICE)
    report = await reconciler(fake, settings).check()
    assert not fake.positions_by_key and fake.open() == []        # closed, then the leftover TP cancelled
    close = [c[1] for c in fake.calls if c[0] == "place_order"][0]
    assert close.type is OrderType.MARKET and close.reduce_only and "-CL_g" in close.client_order_id
    assert report.settled


async def test_would_trigger_answer_from_the_venue_closes_at_market(fake, settings):
    settings = settings.with_values(working_type="CONTRACT_PRICE")   # no local pre-check: the venue decides
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000", mark="28900")
    await reconciler(fake, settings).check()
    kinds = [c[1].type for c in fake.calls if c[0] == "place_order"]
    assert kinds[:2] == [OrderType.STOP_MARKET, OrderType.MARKET] and not fake.positions_by_key


async def test_an_id_placed_by_another_actor_meanwhile_counts_as_placed(fake, settings):
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    sl = client_order_id(TRADE, Role.STOP)

    def bot_was_first(req):
        if req.client_order_id == sl and not fake.open("BTCUSDT"):
            fake.add_order(symbol="BTCUSDT", client_order_id=sl, side=Side.SELL, type=OrderType.STOP_MARKET,
                           orig_qty=D(0), stop_price=D("29000"), close_position=True,
                           working_type=WorkingType.MARK_PRICE)
    fake.on_place = bot_was_first
    report = await reconciler(fake, settings).check()
    assert [e[0] for e in exits(fake)] == [sl, client_order_id(TRADE, Role.TAKE_PROFIT)]
    assert report.settled


async def test_venue_refusing_two_stops_gets_cancel_then_place(fake, settings):
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    old = fake.add_order(symbol="BTCUSDT", client_order_id=client_order_id(TRADE, Role.STOP), side=Side.SELL,
                         type=OrderType.STOP_MARKET, orig_qty=D(0), stop_price=D("29000"), close_position=True,
                         working_type=WorkingType.CONTRACT_PRICE)
    fake.add_order(symbol="BTCUSDT", client_order_id=client_order_id(TRADE, Role.TAKE_PROFIT), side=Side.SELL,
                   type=OrderType.TAKE_PROFIT_MARKET, orig_qty=D(0), stop_price=D("32000"), close_position=True,
                   working_type=WorkingType.MARK_PRICE)
    fake.fail["place_order"].append(RequestError("An open stop or take profit order with closePosition in the "
                                                 "direction is existing.", code=-4130))
    report = await reconciler(fake, settings).check()
    calls = [c for c in fake.calls if c[0] in ("place_order", "cancel_order")]
    assert [c[0] for c in calls] == ["place_order", "cancel_order", "place_order"]
    assert calls[1][1] == old.order_id
    assert exits(fake)[0] == (client_order_id(TRADE, Role.STOP_ALT), "STOP_MARKET", "29000")
    assert report.settled


async def test_kill_switch_flattens_every_position_and_says_so_loudly(fake, settings, caplog):
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    fake.set_position("ETHUSDT", "-2", "2000")
    fake.add_order(symbol="ETHUSDT", client_order_id="entry-1", side=Side.SELL, type=OrderType.LIMIT,
                   orig_qty=D(1), price=D("2100"))
    fake.account_info = fake.account_info.__class__(D(1000), D(0), D("110"), D("100"), D(0), D(0))
    with caplog.at_level(logging.INFO):
        report = await reconciler(fake, settings).check()
    assert not fake.positions_by_key and fake.open() == []
    assert "1.1" in report.killed and report.safety_multiple == D("1.1")
    closes = [c[1] for c in fake.calls if c[0] == "place_order"]
    assert {c.client_order_id.split("-")[-1][:3] for c in closes} == {"KS_"} and all(c.type is OrderType.MARKET for c in closes)
    loud = [r for r in caplog.records if getattr(r, "event", "") == "kill_switch" and r.levelno == logging.ERROR]
    assert loud and all(getattr(r, "activity", False) for r in loud)


async def test_kill_switch_disabled_does_not_read_the_account(fake, settings):
    settings = settings.with_values(kill_safety_multiple=0.0)
    fake.set_position("BTCUSDT", "0.5", "30000")
    fake.account_info = fake.account_info.__class__(D(1000), D(0), D("110"), D("100"), D(0), D(0))
    write_state(settings.state_file, long_trade())
    report = await reconciler(fake, settings).check()
    assert not [c for c in fake.calls if c[0] == "account"] and fake.positions_by_key and report.killed == ""


async def test_flat_symbols_are_found_by_the_sweep_and_then_watched(fake, settings):
    fake.add_order(symbol="ETHUSDT", client_order_id="old-stop", side=Side.BUY, type=OrderType.STOP_MARKET,
                   orig_qty=D(0), stop_price=D("2100"), close_position=True)
    rec = reconciler(fake, settings)
    await rec.check()
    assert fake.open() == [] and ("open_orders", None) in fake.calls
    fake.calls.clear()
    await rec.check()                       # no sweep due: nothing of interest, so nothing fetched per symbol
    assert [c for c in fake.calls if c[0] == "open_orders"] == []


async def test_scoped_check_fetches_only_that_symbols_orders(fake, settings):
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    report = await reconciler(fake, settings).check(frozenset({"BTCUSDT"}))
    assert [c for c in fake.calls if c[0] == "open_orders"][0] == ("open_orders", "BTCUSDT")
    assert report.scope == frozenset({"BTCUSDT"}) and len(exits(fake)) == 2
    assert not [c for c in fake.calls if c[0] == "account"]


async def test_unreadable_state_keeps_the_last_good_levels(fake, settings):
    write_state(settings.state_file, long_trade())
    rec = reconciler(fake, settings)
    assert rec.state.get().open_trades[TRADE].stop_price == D("29000")
    Path(settings.state_file).write_text("{ half written")
    assert rec.state.get().open_trades[TRADE].stop_price == D("29000")
    assert Path(settings.state_file).read_text() == "{ half written"     # never rewritten or moved by the guard


@pytest.mark.parametrize("hedge", [False, True])
async def test_flip_replaces_exits_on_the_new_side(fake, settings, hedge):
    side = PositionSide.SHORT if hedge else PositionSide.BOTH
    fake.set_position("BTCUSDT", "-0.5", "30000", side=side)
    fake.klines_by_symbol["BTCUSDT"] = klines()
    adopted = trade_id_for_adopted("BTCUSDT", side.value)
    fake.add_order(symbol="BTCUSDT", client_order_id=client_order_id(adopted, Role.STOP), side=Side.SELL,
                   type=OrderType.STOP_MARKET, orig_qty=D(0), stop_price=D("29000"), close_position=True,
                   working_type=WorkingType.MARK_PRICE,
                   position_side=PositionSide.LONG if hedge else PositionSide.BOTH)
    await reconciler(fake, settings).check()
    left = fake.open()
    assert {(o.side, o.type) for o in left} == {(Side.BUY, OrderType.STOP_MARKET),
                                                (Side.BUY, OrderType.TAKE_PROFIT_MARKET)}
    assert all(o.position_side is side for o in left)


async def test_a_stop_the_venue_refuses_outright_closes_the_position(fake, settings, caplog):
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    fake.fail["place_order"].append(RequestError("Precision is over the maximum defined for this asset.",
                                                 code=-1111))
    with caplog.at_level(logging.WARNING):
        report = await reconciler(fake, settings).check()
    assert not fake.positions_by_key and fake.open() == [] and report.settled
    (line,) = [r for r in caplog.records if getattr(r, "event", "") == "position.closed"]
    assert "refused the stop" in line.getMessage() and line.levelno == logging.WARNING


async def test_a_refused_take_profit_does_not_close_the_protected_position(fake, settings):
    write_state(settings.state_file, long_trade())
    fake.set_position("BTCUSDT", "0.5", "30000")
    fake.fail["place_order"].append(RequestError("Precision is over the maximum", code=-1111))   # the TP
    fake.add_order(symbol="BTCUSDT", client_order_id=client_order_id(TRADE, Role.STOP), side=Side.SELL,
                   type=OrderType.STOP_MARKET, orig_qty=D(0), stop_price=D("29000"), close_position=True,
                   working_type=WorkingType.MARK_PRICE)
    report = await reconciler(fake, settings).check()
    assert fake.positions_by_key and [o.type for o in fake.open()] == [OrderType.STOP_MARKET]
    assert not report.settled and "Precision" in report.problems[0]


async def test_a_stop_placed_between_the_positions_read_and_the_orders_read_is_not_cancelled(fake, settings):
    """Issue 12 item 11: the bot's entry fills right after the guard read positions (flat), and its stop
    is resting when the guard reads open orders. Before cancelling that "leftover" the guard reads
    positions again, finds the position, and keeps (and verifies) the stop."""
    write_state(settings.state_file, long_trade())
    real_open_orders = fake.open_orders
    bot_acted = []

    async def open_orders(symbol=None):
        if not bot_acted:           # the bot, between the guard's two reads: entry filled, stop placed
            bot_acted.append(True)
            fake.set_position("BTCUSDT", "0.5", "30000")
            fake.add_order(symbol="BTCUSDT", client_order_id=client_order_id(TRADE, Role.STOP), side=Side.SELL,
                           type=OrderType.STOP_MARKET, orig_qty=D(0), stop_price=D("29000"), close_position=True,
                           working_type=WorkingType.MARK_PRICE)
        return await real_open_orders(symbol)

    fake.open_orders = open_orders
    report = await reconciler(fake, settings).check(sweep=True)
    assert not [c for c in fake.calls if c[0] == "cancel_order"], "the bot's fresh stop was cancelled"
    assert (client_order_id(TRADE, Role.STOP), "STOP_MARKET", "29000") in exits(fake)
    assert [v.protected for v in report.views] == [True]
