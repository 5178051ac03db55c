"""After a restart, held symbols get their prices one at a time: a missing mark must never count as 0.

A restarted exchange once liquidated positions because the first quote of one symbol triggered a margin
check of the whole account while the other held symbols still had mark 0. Restored marks close that
window; while a symbol has no mark at all, it counts at the position's entry price and the account's
priced positions are still judged.
"""
from __future__ import annotations

import pytest

from mraster.domain.types import MarginType, PositionSide
from paper.engine.errors import PaperStateError
from paper.store import account_from_dict, account_to_dict

from tests.paper.engine_helpers import D, T0, make_engine, order, position, set_price

K = "acct"
BOTH = ("BTCUSDT", "ETHUSDT")


def held_before_restart(btc_isolated: bool = True, eth_isolated: bool = False):
    """A 10x BTC long and a 20x ETH long (each isolated or cross); the accounts as the store saves them."""
    eng = make_engine(BOTH, balance="10000")
    set_price(eng, "50000", top_qty="10")
    set_price(eng, "2000", symbol="ETHUSDT", top_qty="100")
    if btc_isolated:
        eng.set_margin_type(K, "BTCUSDT", MarginType.ISOLATED, T0)
    if eth_isolated:
        eng.set_margin_type(K, "ETHUSDT", MarginType.ISOLATED, T0)
    eng.set_leverage(K, "BTCUSDT", 10, T0)
    eng.place(K, order(quantity="1"), T0)
    eng.set_leverage(K, "ETHUSDT", 20, T0)
    eng.place(K, order(symbol="ETHUSDT", quantity="40"), T0)
    assert position(eng, K) == D("1") and position(eng, K, "ETHUSDT") == D("40")
    return [account_from_dict(account_to_dict(a)) for a in eng.accounts.values()], eng.priced_marks()


def restarted(accounts, symbols=BOTH):
    eng = make_engine(symbols, balance="10000")
    eng.restore(accounts, [])
    return eng


@pytest.mark.parametrize("btc_isolated, eth_isolated", [(True, True), (False, False), (True, False)])
def test_first_quote_of_one_symbol_does_not_liquidate_the_unpriced_others(btc_isolated, eth_isolated):
    accounts, _ = held_before_restart(btc_isolated, eth_isolated)
    eng = restarted(accounts)
    assert eng.markets["ETHUSDT"].mark_t == 0
    set_price(eng, "50000")                       # BTC is priced first; ETH still has no mark
    assert position(eng, K, "ETHUSDT") == D("40") and position(eng, K) == D("1")
    assert not eng.drain().liquidations
    set_price(eng, "1990", symbol="ETHUSDT")      # ETH's first quote: judged at its real price, still safe
    assert position(eng, K, "ETHUSDT") == D("40") and position(eng, K) == D("1")


def test_a_priced_isolated_position_is_still_liquidated_while_another_symbol_has_no_mark():
    accounts, _ = held_before_restart()
    eng = restarted(accounts)
    set_price(eng, "50000")
    set_price(eng, "45180")                       # below the isolated BTC long's liquidation price
    assert position(eng, K) == 0
    assert position(eng, K, "ETHUSDT") == D("40")  # the unpriced ETH long is not judged at 0


def test_the_first_real_quote_of_an_unpriced_symbol_is_judged_exactly():
    accounts, _ = held_before_restart()
    eng = restarted(accounts)
    set_price(eng, "50000")
    # a 20x cross long of 40 ETH on about 7,600 USDT of cross wallet is liquidated near 1,818 (9.1 % down)
    set_price(eng, "1700", symbol="ETHUSDT")
    assert position(eng, K, "ETHUSDT") == 0
    assert position(eng, K) == D("1")              # the isolated BTC long is its own affair


def test_saved_marks_are_restored_for_held_symbols_only():
    accounts, marks = held_before_restart()
    eng = make_engine(BOTH + ("SOLUSDT",), balance="10000")
    eng.restore(accounts, [])
    seeded = eng.seed_marks({**marks, "SOLUSDT": 1234})
    assert sorted(seeded) == ["BTCUSDT", "ETHUSDT"]
    assert eng.markets["ETHUSDT"].mark_t == marks["ETHUSDT"] and eng.markets["SOLUSDT"].mark_t == 0
    assert eng.view(K).positions and all(r.mark > 0 for r in eng.view(K).positions)


def test_a_position_on_a_symbol_the_feed_no_longer_lists_is_refused_not_dropped():
    accounts, _ = held_before_restart()
    with pytest.raises(PaperStateError, match="ETHUSDT.*--reset"):
        restarted(accounts, symbols=("BTCUSDT",))
    assert accounts[0].positions[("ETHUSDT", PositionSide.BOTH)].amount == D("40")


def test_the_venue_saves_the_marks_and_a_restart_on_the_same_feed_restores_them_for_held_symbols(tmp_path):
    """Real SQLite file, real synthetic feed; a restart before the first quote sees the last marks."""
    from paper.config import PaperConfig
    from paper.feeds.synthetic import SyntheticFeed
    from paper.venue import Venue

    from tests.paper.test_feeds import FakeWall

    config = PaperConfig(db_path=tmp_path / "p.sqlite", symbols=BOTH)
    wall = FakeWall(1_790_000_000.5)
    v = Venue(config, SyntheticFeed(BOTH, seed=3), wall=wall)
    v._apply_quotes(v.feed.advance(v.now()))
    v.engine.place(K, order(quantity="0.01"), v.now())
    v.commit()
    v.store.set_meta({"feed": v.feed_identity(), **v._clock_meta()})
    btc_mark = v.engine.markets["BTCUSDT"].mark_t
    v.store.close()
    assert btc_mark > 0

    again = Venue(config, SyntheticFeed(BOTH, seed=3), wall=wall)
    try:
        assert position(again.engine, K) == D("0.01")
        assert again.engine.markets["BTCUSDT"].mark_t == btc_mark     # held: its last mark is back
        assert again.engine.markets["ETHUSDT"].mark_t == 0            # not held: waits for its quote
    finally:
        again.store.close()
