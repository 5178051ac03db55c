"""Issue 12 on the in-memory venue: failed setup blocks entries (item 7), the notional cap holds after
the fill (8), stale candles block entries but not protection (10), FastTP's partial exit and the
take-profit replacement that never cancels first (6, 17), plain sizing when the bandit is off (17).

The venue is tests/bot/fakevenue.py (an in-memory double: refusals and price moves in the middle of a
request cannot be produced on demand by the real paper exchange)."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal as D

from mraster.domain.sizing import SizingParams, size_position
from mraster.domain.types import KlinesStatus, OrderType
from mraster.exchange.errors import RequestError
from mraster.settings import load_settings

from tests.bot.fakevenue import FakeVenue
from tests.bot.runtime_helpers import bot_env, run_once, state_of
from tests.bot.test_runtime import resting, trending_venue


class SetupRefusingVenue(FakeVenue):
    def __init__(self, *a, max_leverage=20, refuse_margin=False, **kw):
        super().__init__(*a, **kw)
        self.max_leverage = max_leverage
        self.refuse_margin = refuse_margin

    async def set_leverage(self, symbol, leverage):
        self.calls.append(f"leverage {symbol} {leverage}")
        if leverage > self.max_leverage:
            raise RequestError("Leverage is not valid.", code=-4028)
        return await super().set_leverage(symbol, leverage)

    async def set_margin_type(self, symbol, margin_type):
        self.calls.append(f"margin {symbol} {margin_type.value}")
        if self.refuse_margin:
            raise RequestError("Margin type cannot be changed if there exists open orders.", code=-4047)


def trend(v):
    for s in v.price:
        v.trend(s, "5m", 0.001)
        v.trend(s, "30m", 0.002)
    return v


async def test_refused_leverage_blocks_entries_visibly_and_is_retried_until_it_succeeds(tmp_path, caplog):
    v = trend(SetupRefusingVenue(symbols=("BTCUSDT",), max_leverage=20))
    await run_once(tmp_path, v, ASTER_LEVERAGE=125)
    st = state_of(tmp_path)
    assert not v.positions_ and not st.open_trades
    rec = st.last_scan["symbols"]["BTCUSDT"]
    assert rec["reason"] == "setup_failed" and "125x" in rec["detail"] and "-4028" in rec["detail"]
    assert "BTCUSDT" not in st.symbol_setup
    assert any("BTCUSDT" in n["msg"] and "setup" in n["msg"] for n in st.notices)
    warned = [r for r in caplog.records if getattr(r, "event", "") == "symbol.setup_failed"]
    assert warned and warned[0].levelname == "WARNING" and getattr(warned[0], "activity", False)
    calls = v.calls.count("leverage BTCUSDT 125")
    await run_once(tmp_path, v, ASTER_LEVERAGE=125)                 # tried again, still refused
    assert v.calls.count("leverage BTCUSDT 125") == calls + 1 and not v.positions_
    v.max_leverage = 125                                             # the venue now accepts it
    await run_once(tmp_path, v, ASTER_LEVERAGE=125)
    st = state_of(tmp_path)
    assert v.positions_["BTCUSDT"][0] > 0
    assert st.symbol_setup["BTCUSDT"] == {"leverage": 125, "margin_type": "ISOLATED"}


async def test_refused_margin_type_is_not_recorded_as_done_and_blocks_entries(tmp_path):
    v = trend(SetupRefusingVenue(symbols=("BTCUSDT",), refuse_margin=True))
    await run_once(tmp_path, v)
    st = state_of(tmp_path)
    assert not v.positions_ and "BTCUSDT" not in st.symbol_setup
    assert st.last_scan["symbols"]["BTCUSDT"]["reason"] == "setup_failed"
    assert "margin type ISOLATED" in st.last_scan["symbols"]["BTCUSDT"]["detail"]
    v.refuse_margin = False
    await run_once(tmp_path, v)
    assert v.positions_["BTCUSDT"][0] > 0 and "BTCUSDT" in state_of(tmp_path).symbol_setup


async def test_notional_cap_holds_after_a_fill_above_the_price_read_by_the_cycle(tmp_path):
    """LIMIT_IOC entry: the ask moves up 0.15 % between the cycle's book read and the order's arrival
    (inside the 0.2 % band, so it fills); the filled notional must still be within the cap."""
    v = trending_venue(symbols=("BTCUSDT",))
    reached, release = v.hold("place LIMIT")
    task = asyncio.create_task(run_once(tmp_path, v, ASTER_ENTRY_ORDER="LIMIT_IOC", ASTER_MAX_NOTIONAL_USDT=300))
    await asyncio.wait_for(reached.wait(), 10)
    v.price["BTCUSDT"] = v.price["BTCUSDT"] * D("1.0015")
    release.set()
    await asyncio.wait_for(task, 10)
    amount, entry = v.positions_["BTCUSDT"]
    assert amount > 0 and entry > D(100)                          # filled at the higher price
    assert amount * entry <= D(300)


async def test_market_entry_is_sized_so_the_cap_allows_for_the_slippage_band(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    await run_once(tmp_path, v, ASTER_MAX_NOTIONAL_USDT=300, ASTER_ENTRY_BAND=0.01)
    (t,) = state_of(tmp_path).open_trades.values()
    ask = D(100) + v.spread / 2
    assert t.qty * ask * D("1.01") <= D(300) < (t.qty + D("0.001")) * ask * D("1.01") + D("0.01")


async def test_market_fill_beyond_the_band_is_cut_back_under_the_cap_at_once(tmp_path):
    """MARKET entry: the price jumps 1 % (five times the 0.2 % band) before the order arrives; the fill is
    above the cap, and the excess is closed reduce-only right away, the brackets stay on the rest."""
    v = trending_venue(symbols=("BTCUSDT",))
    reached, release = v.hold("place MARKET")
    task = asyncio.create_task(run_once(tmp_path, v, ASTER_MAX_NOTIONAL_USDT=300))
    await asyncio.wait_for(reached.wait(), 10)
    v.price["BTCUSDT"] = v.price["BTCUSDT"] * D("1.01")
    release.set()
    await asyncio.wait_for(task, 10)
    amount, entry = v.positions_["BTCUSDT"]
    assert amount * entry <= D(300) < (amount + D("0.001")) * entry            # just under the cap
    (t,) = state_of(tmp_path).open_trades.values()
    assert t.qty == amount < t.entry_qty and t.entry_qty * entry > D(300)
    trims = [o for o in v.orders.values() if o.client_order_id.startswith(f"mr-{t.trade_id}-CL")]
    assert len(trims) == 1 and trims[0].executed_qty == t.entry_qty - amount
    assert set(resting(v, "BTCUSDT")) == {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET}


class LaggingVenue(FakeVenue):
    """Serves candles that stopped `lag_ms` ago, or says its client served them stale from a cache."""
    lag_ms = 0
    cache_stale = False

    async def klines(self, symbol, interval, limit=500, start_time=None, end_time=None):
        bars = await super().klines(symbol, interval, limit, start_time, end_time)
        return [replace(k, open_time=k.open_time - self.lag_ms, close_time=k.close_time - self.lag_ms)
                if hasattr(k, "__dataclass_fields__") else
                k._replace(open_time=k.open_time - self.lag_ms, close_time=k.close_time - self.lag_ms)
                for k in bars]

    def klines_status(self, symbol, interval):
        return KlinesStatus(symbol, interval, self.cache_stale, 600.0 if self.cache_stale else 0.0, 0)


async def test_stale_signal_bars_block_entries_with_the_age_but_protection_goes_on(tmp_path, caplog):
    v = trend(LaggingVenue(symbols=("BTCUSDT", "ETHUSDT")))
    await run_once(tmp_path, v, ASTER_MAX_OPEN_GLOBAL=1)
    (t,) = state_of(tmp_path).open_trades.values()
    other = "ETHUSDT" if t.symbol == "BTCUSDT" else "BTCUSDT"
    v.clock += 300_000
    v.lag_ms = 20 * 60_000                                     # the venue's candles stopped 20 minutes ago
    v.move(t.symbol, float(t.stop_price) - 0.01)               # the stop fires: the exit must still be seen
    await run_once(tmp_path, v, ASTER_MAX_OPEN_GLOBAL=1)
    st = state_of(tmp_path)
    assert t.trade_id in {c.trade_id for c in st.closed_trades}           # exit handled
    assert not v.positions_.get(other) or v.positions_[other][0] == 0       # no new entry on old data
    rec = st.last_scan["symbols"][other]
    assert rec["reason"] == "stale_data" and "bar is" in rec["detail"] and "s old" in rec["detail"]
    assert any(getattr(r, "event", "") == "data.stale" and r.levelname == "WARNING" for r in caplog.records)
    v.lag_ms = 0
    v.clock += 300_000
    await run_once(tmp_path, v, ASTER_MAX_OPEN_GLOBAL=1)
    assert state_of(tmp_path).open_trades                                  # fresh again: entries resume


async def test_candles_served_stale_from_the_cache_block_entries(tmp_path):
    v = trend(LaggingVenue(symbols=("BTCUSDT",)))
    v.cache_stale = True
    await run_once(tmp_path, v)
    st = state_of(tmp_path)
    assert not v.positions_ and st.last_scan["symbols"]["BTCUSDT"]["reason"] == "stale_data"
    assert "cache" in st.last_scan["symbols"]["BTCUSDT"]["detail"]


async def test_fasttp_partial_exit_closes_part_reduce_only_once_and_keeps_the_brackets(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    await run_once(tmp_path, v)
    (t,) = state_of(tmp_path).open_trades.values()
    v.clock += 300_000
    v.move("BTCUSDT", float(t.entry_price + t.risk_per_unit * D("0.6")))    # +0.6 R
    v.trend("BTCUSDT", "5m", -0.002)                                         # last bars turn down
    await run_once(tmp_path, v)
    t1 = state_of(tmp_path).open_trades[t.trade_id]
    part = (t.qty * D("0.5")).quantize(D("0.001"), rounding="ROUND_FLOOR")
    assert t1.qty == t.qty - part == v.positions_["BTCUSDT"][0] and t1.fasttp_count == 1
    ft = [o for o in v.orders.values() if o.client_order_id == f"mr-{t.trade_id}-FT"]
    assert len(ft) == 1 and ft[0].executed_qty == part and ft[0].type is OrderType.MARKET
    assert t1.take_profit_price == t.take_profit_price                      # not pulled in
    assert set(resting(v, "BTCUSDT")) == {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET}
    v.clock += 60_000                                                        # cooldown over, still turning
    v.move("BTCUSDT", float(v.price["BTCUSDT"]) - 0.02)
    await run_once(tmp_path, v)
    t2 = state_of(tmp_path).open_trades[t.trade_id]
    assert t2.qty == t1.qty and t2.fasttp_count == 1                         # once per trade


class OneTakeProfitVenue(FakeVenue):
    """Allows one close-position take-profit per symbol (as some venues do) and records cancels."""

    async def place_order(self, req):
        if req.type is OrderType.TAKE_PROFIT_MARKET and req.close_position and any(
                o.is_open and o.type is OrderType.TAKE_PROFIT_MARKET and o.close_position and o.symbol == req.symbol
                for o in self.orders.values()):
            self.calls.append(f"refused {req.client_order_id}")
            raise RequestError("An open stop or take profit order with closePosition exists.", code=-4130)
        return await super().place_order(req)

    async def cancel_order(self, symbol, *, order_id=None, client_order_id=None):
        self.calls.append(f"cancel {client_order_id}")
        return await super().cancel_order(symbol, order_id=order_id, client_order_id=client_order_id)


async def test_take_profit_replacement_is_accepted_before_the_old_one_is_cancelled(tmp_path):
    v = trend(OneTakeProfitVenue(symbols=("BTCUSDT",)))
    await run_once(tmp_path, v, FASTTP_MODE="pull_in")
    (t,) = state_of(tmp_path).open_trades.values()
    v.clock += 300_000
    v.move("BTCUSDT", float(t.entry_price + t.risk_per_unit * D("0.6")))
    v.trend("BTCUSDT", "5m", -0.002)
    await run_once(tmp_path, v, FASTTP_MODE="pull_in")
    old, new = f"mr-{t.trade_id}-TP", f"mr-{t.trade_id}-TX"
    assert f"cancel {old}" in v.calls
    assert v.calls.index(f"place TAKE_PROFIT_MARKET {new}") < v.calls.index(f"cancel {old}")
    (tp,) = [o for o in v.orders.values() if o.is_open and o.type is OrderType.TAKE_PROFIT_MARKET]
    t1 = state_of(tmp_path).open_trades[t.trade_id]
    assert tp.client_order_id == new and tp.stop_price == t1.take_profit_price < t.take_profit_price
    assert tp.reduce_only and not tp.close_position


async def test_bandit_off_means_plain_sizing_base_times_size_mult(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    await run_once(tmp_path, v, ASTER_BANDIT_ENABLED="false", ASTER_SIZE_MULT=0.5, ASTER_MAX_NOTIONAL_USDT=100000,
                   ASTER_EQUITY_FRACTION=1.0)
    (t,) = state_of(tmp_path).open_trades.values()
    s = load_settings(env=bot_env(tmp_path, ASTER_SIZE_MULT=0.5, ASTER_MAX_NOTIONAL_USDT=100000,
                                  ASTER_EQUITY_FRACTION=1.0)).settings
    ask = D(100) + v.spread / 2
    expect = size_position(equity=D(10000), price=ask, stop_distance=D(str(s.sl_atr_mult * t.atr)), bucket="BASE",
                           rules=v.rules["BTCUSDT"], params=SizingParams.from_settings(s),
                           worst_price=ask * D(str(1 + s.entry_band)))
    assert t.bucket == "BASE" and t.size_mult == 0.5 and t.qty == expect.qty
    assert t.decision["shadow"] is True and t.decision["policy_arm"] in ("SKIP", "S", "M", "L")
    m_sized = size_position(equity=D(10000), price=ask, stop_distance=D(str(s.sl_atr_mult * t.atr)), bucket="M",
                            rules=v.rules["BTCUSDT"], params=SizingParams.from_settings(s))
    assert m_sized.qty >= t.qty * D("1.39")                  # the old fixed M bucket would be 1.4x this




class RefuseFastTPVenue(FakeVenue):
    refuse_ft = True

    async def place_order(self, req):
        if req.client_order_id.endswith("-FT") and self.refuse_ft:
            self.calls.append(f"refused {req.client_order_id}")
            raise RequestError("Margin is insufficient.", code=-2019)
        return await super().place_order(req)


async def test_a_refused_partial_exit_is_tried_again_after_the_cooldown(tmp_path):
    v = trend(RefuseFastTPVenue(symbols=("BTCUSDT",)))
    await run_once(tmp_path, v)
    (t,) = state_of(tmp_path).open_trades.values()
    v.clock += 300_000
    v.move("BTCUSDT", float(t.entry_price + t.risk_per_unit * D("0.6")))
    v.trend("BTCUSDT", "5m", -0.002)
    await run_once(tmp_path, v)
    t1 = state_of(tmp_path).open_trades[t.trade_id]
    assert t1.fasttp_count == 0 and t1.qty == t.qty and v.calls.count(f"refused mr-{t.trade_id}-FT") == 1
    v.refuse_ft = False
    v.clock += 60_000
    v.move("BTCUSDT", float(v.price["BTCUSDT"]) - 0.02)
    await run_once(tmp_path, v)
    t2 = state_of(tmp_path).open_trades[t.trade_id]
    assert t2.fasttp_count == 1 and t2.qty < t.qty
