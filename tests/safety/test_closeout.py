"""The one close-order routine (mraster/safety/closeout.py): split at the market lot maximum, used by the
bot's emergency close, the dashboard's "Stop all and flatten" and the guard, on the real paper exchange.

SOLUSDT on the paper exchange has MARKET_LOT_SIZE max 20000 (LOT_SIZE max 10,000,000): a 30000
position is above what one market order may close; the venue refuses such an order (-4005).
"""
from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from mraster.domain.ids import Role, client_order_id, parse_client_order_id, trade_id_for_adopted
from mraster.domain.rules import SymbolRules
from mraster.domain.types import OrderRequest, OrderType, Position, PositionSide, Side
from mraster.exchange.errors import RequestError
from mraster.exchange.factory import make_exchange
from paper.testing import PaperExchange
from mraster.journal import Journal
from bot.runtime.orders import OrderExecutor
from mraster.safety.closeout import close_position, close_requests, match_trade
from mraster.settings import default_settings
from mraster.state import BotState, Trade
from dashboard.services.flatten import FlattenService
from dashboard.services.supervisor import Supervisor

D = Decimal
SYM = "SOLUSDT"
RULES = SymbolRules(SYM, tick_size=D("0.001"), step_size=D("0.1"), min_qty=D("0.1"), max_qty=D("10000000"),
                    market_step_size=D("0.1"), market_min_qty=D("0.1"), market_max_qty=D("20000"))


# ------------------------------------------------------------------------ pure
def _pos(amount: str, ps: PositionSide = PositionSide.BOTH) -> Position:
    return Position(SYM, ps, D(amount), D("20"))


def test_close_is_split_at_the_market_lot_maximum():
    reqs = close_requests(_pos("45000.5"), "mr-SOLUSDT.gb-CL", RULES)
    assert [r.quantity for r in reqs] == [D("20000"), D("20000"), D("5000.5")]
    assert all(r.reduce_only and r.side is Side.SELL and r.type is OrderType.MARKET for r in reqs)


def test_partial_close_is_rounded_down_to_the_market_step_and_never_above_the_position():
    assert [r.quantity for r in close_requests(_pos("-30000"), "x", RULES, qty=D("25000.07"))] == \
        [D("20000"), D("5000.0")]
    assert sum(r.quantity for r in close_requests(_pos("100"), "x", RULES, qty=D("500"))) == D("100")


def test_hedge_mode_names_the_leg_without_reduce_only_and_ids_may_differ_per_chunk():
    reqs = close_requests(_pos("-30000", PositionSide.SHORT), lambda n: f"c{n}", RULES)
    assert [(r.client_order_id, r.side, r.reduce_only, r.position_side) for r in reqs] == [
        ("c0", Side.BUY, False, PositionSide.SHORT), ("c1", Side.BUY, False, PositionSide.SHORT)]


def test_trades_are_matched_by_symbol_position_side_and_direction():
    long_ = Trade(trade_id="SOLUSDT.a", symbol=SYM, side="LONG", status="open", entry_time_ms=1)
    newer = Trade(trade_id="SOLUSDT.b", symbol=SYM, side="LONG", status="open", entry_time_ms=2)
    short = Trade(trade_id="SOLUSDT.c", symbol=SYM, side="SHORT", status="open", entry_time_ms=3)
    hedge = Trade(trade_id="SOLUSDT.d", symbol=SYM, side="SHORT", status="open", entry_time_ms=4,
                  position_side="SHORT")
    trades = [long_, newer, short, hedge]
    assert match_trade(trades, _pos("1")) is newer
    assert match_trade(trades, _pos("-1")) is short
    assert match_trade(trades, _pos("-1", PositionSide.SHORT)) is hedge
    assert match_trade(trades, _pos("1", PositionSide.LONG)) is None


# ------------------------------------------------------------------ paper exchange
@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("closeout"), symbols=("BTCUSDT", SYM), seed=5) as exchange:
        yield exchange


@pytest.fixture
async def ex(px, request):
    key = "co-" + request.node.name[-20:]
    settings = default_settings().with_values(paper=True, paper_url=px.url, api_key=key, api_secret="s-" + key,
                                              http_backoff=0.05)
    client = make_exchange(settings)
    await asyncio.to_thread(px.admin, "POST", "/balance", api_key=key, balance="10000000")
    await asyncio.to_thread(px.admin, "POST", "/price", symbol=SYM, price="20")
    await client.set_leverage(SYM, 1)
    yield client
    await client.close()


async def _big_long(ex, qty: str = "30000") -> Position:
    half = D(qty) / 2
    for n in range(2):                       # two entries within the market lot maximum each
        await ex.place_order(OrderRequest(SYM, Side.BUY, OrderType.MARKET, f"entry-{n}", quantity=half))
    (pos,) = [p for p in await ex.positions(SYM) if not p.is_flat]
    assert pos.qty == D(qty)
    return pos


async def _held(ex) -> Decimal:
    return sum((p.qty for p in await ex.positions(SYM) if not p.is_flat), D(0))


async def test_one_market_order_above_the_lot_maximum_is_refused_by_the_venue(ex):
    """The failure the routine exists for: what the dashboard's flatten used to send."""
    pos = await _big_long(ex)
    with pytest.raises(RequestError, match="-4005"):
        await ex.place_order(OrderRequest(SYM, Side.SELL, OrderType.MARKET, "one-shot", quantity=pos.qty,
                                          reduce_only=True))
    assert await _held(ex) == pos.qty


async def test_close_position_closes_above_the_lot_maximum_in_chunks(ex):
    pos = await _big_long(ex)
    result = await close_position(ex, pos, "mr-SOLUSDT.gb-CL")
    assert result.done and result.closed == D("30000") and result.remaining == 0
    assert [o.executed_qty for o in result.orders] == [D("20000"), D("10000")]
    assert await _held(ex) == 0


async def test_partial_close_leaves_the_rest(ex):
    pos = await _big_long(ex)
    result = await close_position(ex, pos, "mr-SOLUSDT.gb-FT", qty=D("25000.05"))
    assert result.done and result.closed == D("25000.0") and result.avg_price is not None
    assert await _held(ex) == D("5000.0")


async def test_lost_answer_is_looked_up_before_more_is_sent(px, ex):
    """The venue executes a chunk but the answer is lost: the routine reads the position before sending
    more, so it never sells more than was held and ends flat."""
    pos = await _big_long(ex)
    await asyncio.to_thread(px.admin, "POST", "/faults", lose_order_response=1)
    try:
        result = await close_position(ex, pos, "mr-SOLUSDT.gb-CL")
    finally:
        await asyncio.to_thread(px.admin, "DELETE", "/faults")
    assert result.done and await _held(ex) == 0
    trades = await ex.user_trades(SYM)
    sold = sum((t.qty for t in trades if t.side is Side.SELL), D(0))
    assert sold == D("30000"), "never more than was held"


async def test_bot_emergency_close_above_the_lot_maximum(ex, tmp_path):
    pos = await _big_long(ex)
    journal = Journal(tmp_path / "journal.sqlite")
    orders = OrderExecutor(ex, journal, lambda: "MARK_PRICE")
    trade = Trade(trade_id="SOLUSDT.lq3k2x1a", symbol=SYM, side="LONG", status="open", qty=pos.qty,
                  entry_price=pos.entry_price, entry_time_ms=1)
    await orders.close_now(trade, "stop could not be placed")
    assert await _held(ex) == 0
    rows = journal.conn.execute("SELECT client_id, status FROM orders WHERE action='place'").fetchall()
    assert [r[1] for r in rows] == ["FILLED", "FILLED"], "every chunk journalled"
    # issue 12 item 4: every chunk is its own order with its own client id, so no look-up finds another one
    assert [r[0] for r in rows] == [client_order_id(trade.trade_id, Role.CLOSE, n) for n in range(2)]


async def test_dashboard_stop_all_and_flatten_above_the_lot_maximum(ex):
    pos = await _big_long(ex)
    await ex.place_order(OrderRequest(SYM, Side.SELL, OrderType.STOP_MARKET, "mr-SOLUSDT.gb-SL",
                                      stop_price=D("15"), close_position=True))
    service = FlattenService(Supervisor({}), lambda: ex_view(ex), lambda: BotState())
    report = await service.run("test")
    assert report.ok, report.to_json()
    (closed,) = report.closed
    cids = closed.pop("client_order_ids")
    fills = closed.pop("fills")          # issue 15: the report shows the fill prices
    assert D(closed.pop("avg_price")) > 0 and [f["status"] for f in fills] == ["FILLED", "FILLED"]
    assert closed.pop("position") == "LONG" and closed.pop("position_side") == "BOTH" and closed.pop("entry_price")
    assert closed == {"symbol": SYM, "qty": "30000.0", "side": "SELL", "status": "FILLED", "orders": 2}
    assert len(set(cids)) == 2 and {parse_client_order_id(c) for c in cids} == {(trade_id_for_adopted(SYM),
                                                                                  Role.CLOSE)}
    assert await _held(ex) == 0 and not await ex.open_orders(SYM)
    assert pos.qty == D("30000")


class ex_view:
    """The test's client lent to the flatten service, which closes what it is given: keep it open."""

    def __init__(self, ex):
        self._ex = ex

    def __getattr__(self, name):
        return getattr(self._ex, name)

    async def close(self) -> None:
        pass


async def test_runtime_close_trade_partial_exit_is_journalled_under_its_role(ex, tmp_path):
    """`bot.runtime.closing.close_trade`, the entry FastTP's partial exits use (a stand-in runtime with the
    three parts the routine uses: the real client, the real journal and order executor, the venue's rules)."""
    from types import SimpleNamespace

    from bot.runtime.closing import close_trade

    pos = await _big_long(ex)
    journal = Journal(tmp_path / "journal.sqlite")

    async def rules():
        return await ex.symbol_rules()

    rt = SimpleNamespace(exchange=ex, market=SimpleNamespace(rules=rules),
                         orders=OrderExecutor(ex, journal, lambda: "MARK_PRICE"))
    trade = Trade(trade_id="SOLUSDT.lq3k2x1b", symbol=SYM, side="LONG", status="open", qty=pos.qty,
                  entry_price=pos.entry_price, entry_time_ms=1)
    result = await close_trade(rt, trade, "FastTP partial exit", qty=D("24000"), role=Role.FAST_TP)
    assert result.done and result.closed == D("24000") and await _held(ex) == D("6000.0")
    rows = journal.conn.execute("SELECT role, status FROM orders WHERE action='place'").fetchall()
    assert rows == [("FT", "FILLED"), ("FT", "FILLED")]
    short = Trade(trade_id="SOLUSDT.lq3k2x1c", symbol=SYM, side="SHORT", status="open", entry_time_ms=2)
    nothing = await close_trade(rt, short, "no short position held")
    assert nothing.done and nothing.closed == 0 and not nothing.orders
