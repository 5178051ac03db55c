"""Universe selection: filters, ranking, cut and rotation."""
from __future__ import annotations

from mraster.domain.types import Ticker24h
from mraster.signals import UniverseParams, select_universe

from tests.bot.conftest import make_rules


def ticker(sym, qv):
    return Ticker24h(sym, 1.0, 1.0, 1.0, 1.0, 1.0, qv, 0.0, 0, 0)


def setup(n=10):
    syms = [f"S{i:02d}USDT" for i in range(n)]
    tickers = [ticker(s, 1_000_000 - i * 10_000) for i, s in enumerate(syms)]
    rules = {s: make_rules(s) for s in syms}
    return syms, tickers, rules


def test_filters_and_ranking():
    syms, tickers, rules = setup(6)
    rules["S01USDT"] = make_rules("S01USDT", status="BREAK")
    rules["S02USDT"] = make_rules("S02USDT", contract_type="CURRENT_QUARTER")
    rules["S03USDT"] = make_rules("S03USDT", quote_asset="BUSD")
    tickers.append(ticker("LOWUSDT", 74_999.0))
    rules["LOWUSDT"] = make_rules("LOWUSDT")
    tickers.append(ticker("GHOSTUSDT", 9e9))        # no rules: not listed for trading
    u = select_universe(tickers, rules, UniverseParams(exclude=("S05USDT",)))
    assert u.symbols == ("S00USDT", "S04USDT")
    assert u.excluded == {"S01USDT": "not_tradable", "S02USDT": "not_tradable", "S03USDT": "other_quote",
                          "S05USDT": "excluded", "LOWUSDT": "low_volume", "GHOSTUSDT": "unknown_symbol"}
    assert u.liquidity_rank == {"S00USDT": 0.0, "S04USDT": 1.0}


def test_include_list_and_max():
    syms, tickers, rules = setup(10)
    u = select_universe(tickers, rules, UniverseParams(include=("S09USDT", "S03USDT", "S05USDT"), max_symbols=2))
    assert u.symbols == ("S03USDT", "S05USDT") and u.eligible == 3
    u = select_universe(tickers, rules, UniverseParams(max_symbols=4))
    assert u.symbols == tuple(syms[:4])


def test_rotation_keeps_the_core_and_walks_the_rest():
    syms, tickers, rules = setup(10)
    p = UniverseParams(max_symbols=4, rotate=True)      # 3 core + 1 rotating slot over the 7 others
    seen = set()
    for cycle in range(7):
        u = select_universe(tickers, rules, p, cycle=cycle)
        assert u.symbols[:3] == tuple(syms[:3]) and len(u.symbols) == 4
        assert u.rotated_in == (syms[3 + cycle],)
        seen.add(u.symbols[3])
    assert seen == set(syms[3:])
    assert select_universe(tickers, rules, p, cycle=7).rotated_in == (syms[3],)      # wraps
    no_rot = select_universe(tickers, rules, UniverseParams(max_symbols=4, rotate=False), cycle=5)
    assert no_rot.symbols == tuple(syms[:4])
    small = select_universe(tickers, rules, UniverseParams(max_symbols=40, rotate=True), cycle=3)
    assert small.symbols == tuple(syms) and small.rotated_in == ()
