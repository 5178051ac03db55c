"""Pure order rules of the momentum engine: the seed's floors with worked numbers, prices on the tick grid,
sizing from the notional, the trailing callback, the daily schedule and the per-symbol parameter file."""
from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from mraster.domain.rules import NoValidOrderError, SymbolRules
from mraster.domain.types import OrderType, Side, TimeInForce, WorkingType
from mraster.signals.momentum_params import (
    MOMENTUM_KEYS, ParamsError, SymbolParams, load_params, parse_params, write_params,
)
from mraster.storage.atomic import CorruptFileError

from momentum.orders import (
    callback_rate, entry_request, exit_plan, exit_requests, minute_of_day, schedule_phase,
)

RULES = SymbolRules("ETHUSDT", tick_size=D("0.01"), step_size=D("0.001"), min_qty=D("0.001"), max_qty=D("100"),
                    min_notional=D("5"))
P = SymbolParams(k=2, T=30, n=2, V=30, tp_bps=15, sl_bps=40, activation_bps=8, activation_buffer_bps=2,
                 callback_bps=10, min_tp_gap_bps=5, spread_max=5, funding_max=5)


def test_floors_worked_numbers():
    # fee 4 bps, opening loss 1 bps, funding -8 bps: be = 2*4 + 1 + 8/8 = 10; activation = max(8, 10 + 2) = 12;
    # take-profit = max(15, 12 + 5) = 17 (bps from the entry)
    plan = exit_plan(1, D("2000.00"), RULES, P, 4.0, 1.0, -8.0)
    assert (plan.be_floor_bps, plan.activation_bps, plan.take_profit_bps) == (10.0, 12.0, 17.0)
    assert plan.activation_price == D("2002.40")          # 2000 * (1 + 12 bps)
    assert plan.take_profit_price == D("2003.40")         # 2000 * (1 + 17 bps)
    assert plan.stop_price == D("1992.00")                # 2000 * (1 - 40 bps)
    assert plan.callback_rate == D("0.1")
    # no floor binds: the configured values stay
    wide = exit_plan(1, D("2000.00"), RULES, SymbolParams(**{**P.to_json(), "tp_bps": 50, "activation_bps": 30}),
                     4.0, 1.0, 0.0)
    assert (wide.be_floor_bps, wide.activation_bps, wide.take_profit_bps) == (9.0, 30.0, 50.0)


def test_exit_prices_snap_away_for_profit_and_toward_entry_for_the_stop():
    long_ = exit_plan(1, D("1234.57"), RULES, P, 5.0, 0.5, 0.0)
    short = exit_plan(-1, D("1234.57"), RULES, P, 5.0, 0.5, 0.0)
    for plan in (long_, short):
        for px in (plan.take_profit_price, plan.stop_price, plan.activation_price):
            assert RULES.price_problem(px) is None, px                     # on the tick grid
    e = D("1234.57")
    assert long_.activation_price >= e * (1 + D(str(long_.activation_bps)) / 10000)
    assert long_.stop_price >= e * (1 - D("0.004"))                     # never a loss beyond sl_bps
    assert short.activation_price <= e * (1 - D(str(short.activation_bps)) / 10000)
    assert short.stop_price <= e * (1 + D("0.004"))
    assert short.take_profit_price < e < short.stop_price


def test_exit_requests_types_working_types_reduce_only():
    plan = exit_plan(-1, D("2000.00"), RULES, P, 4.0, 1.0, 0.0)
    reqs = exit_requests("ETHUSDT", plan, D("0.250"), lambda role: f"m:{role}")
    by = {r.client_order_id: r for r in reqs}
    tp, sl, tr = by["m:TP"], by["m:SL"], by["m:TR"]
    assert all(r.reduce_only and r.side is Side.BUY and r.quantity == D("0.250") for r in reqs)
    assert tp.type is OrderType.TAKE_PROFIT_MARKET and tp.working_type is WorkingType.CONTRACT_PRICE
    assert sl.type is OrderType.STOP_MARKET and sl.working_type is WorkingType.MARK_PRICE
    assert tr.type is OrderType.TRAILING_STOP_MARKET and tr.activation_price == plan.activation_price
    assert tr.callback_rate == D("0.1") and tr.stop_price is None


def test_entry_is_ioc_at_the_touch_with_notional_at_least_the_target():
    buy = entry_request("ETHUSDT", 1, RULES, 1999.99, 2000.01, 5.0, "m:EN")
    assert buy.side is Side.BUY and buy.type is OrderType.LIMIT and buy.time_in_force is TimeInForce.IOC
    assert buy.price == D("2000.01") and buy.quantity == D("0.003")      # 0.0025 rounds up to the step
    assert buy.quantity * buy.price >= 5
    sell = entry_request("ETHUSDT", -1, RULES, 1999.99, 2000.01, 100.0, "m:EN")
    assert sell.side is Side.SELL and sell.price == D("1999.99") and sell.quantity == D("0.051")
    tiny = SymbolRules("X", D("0.01"), D("0.001"), D("0.001"), D("100"), min_notional=D("20"))
    assert entry_request("X", 1, tiny, 99, 100, 5.0, "m:EN").quantity == D("0.200")   # MIN_NOTIONAL binds
    with pytest.raises(NoValidOrderError):
        entry_request("X", 1, SymbolRules("X", D("0.01"), D("1"), D("1"), D("2")), 99, 100, 1000.0, "m:EN")


def test_callback_rate_in_venue_steps():
    assert callback_rate(10) == D("0.1") and callback_rate(25) == D("0.3") and callback_rate(120) == D("1.2")
    assert callback_rate(1) == D("0.1") and callback_rate(900) == D("5")


def test_daily_schedule_by_utc_minute():
    day = 1_770_000_000_000 // 86_400_000 * 86_400_000
    halt, force = minute_of_day("23:00"), minute_of_day("23:50")
    assert (halt, force) == (1380, 1430)
    assert schedule_phase(day + 1379 * 60_000 + 59_999, halt, force) == "open"
    assert schedule_phase(day + 1380 * 60_000, halt, force) == "halted"
    assert schedule_phase(day + 1430 * 60_000, halt, force) == "force_exit"
    assert schedule_phase(day + 86_400_000, halt, force) == "open"       # midnight: open again
    for bad in ("24:00", "7:00", "23-00", "ab:cd"):
        with pytest.raises(ValueError, match="HH:MM"):
            minute_of_day(bad)


def _entry(**over):
    return {**{k: 1 for k in MOMENTUM_KEYS}, "callback_bps": 10, **over}


def test_params_file_round_trip_and_errors(tmp_path):
    path = tmp_path / "run" / "momentum_params.json"
    assert load_params(path) is None
    params = parse_params({"symbols": {"ETHUSDT": _entry(k=2.5, T=30, config_id=17, cooldown_min=3)}})
    write_params(path, params, {"ETHUSDT": {"job": "j1", "config_id": 17}})
    back = load_params(path)
    assert back == params and back["ETHUSDT"].config_id == "17" and back["ETHUSDT"].warmup_bars == 31
    assert json.loads(path.read_text())["version"] == 1
    # the dashboard's Apply shape: the row's keys per symbol, its job and config id under "applied"
    dash = {"version": 1, "symbols": {"LINKUSDT": _entry(T=30, V=60)},
            "applied": {"LINKUSDT": {"job": "20261205T072944-caa46d", "config_id": 4, "rank": 1}},
            "updated_at": "2026-12-05T07:29:50+00:00"}
    assert parse_params(dash)["LINKUSDT"].config_id == "20261205T072944-caa46d#4"
    with pytest.raises(ParamsError, match="missing required key.*'sl_bps'"):
        parse_params({"symbols": {"ETHUSDT": {k: 1 for k in MOMENTUM_KEYS if k != "sl_bps"}}})
    with pytest.raises(ParamsError, match="one value per key"):
        parse_params({"symbols": {"ETHUSDT": _entry(k=[1, 2])}})
    with pytest.raises(ParamsError, match="whole number"):
        parse_params({"symbols": {"ETHUSDT": _entry(T=2.5)}})
    with pytest.raises(ParamsError, match="callback"):
        parse_params({"symbols": {"ETHUSDT": _entry(callback_bps=5)}})
    with pytest.raises(ParamsError, match="unknown key"):
        parse_params({"symbols": {"ETHUSDT": _entry(rsi=3)}})
    path.write_text('{"symbols": {"ETHUSDT": {"k": 1}}}')
    with pytest.raises(CorruptFileError):
        load_params(path)
    assert not path.exists() and list(path.parent.glob("momentum_params.json.corrupt-*"))   # kept aside
