"""Issue 12 item 4 for the guard and the dashboard: every order they place carries a client id no earlier
order had, so a look-up by id (the never-double rule after an unknown outcome) can only find that order.
Chunked closes and a close retried after a refusal run on the real paper exchange (SOLUSDT: market lot
maximum 20000, see test_closeout.py)."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from dashboard.services.flatten import FlattenService
from dashboard.services.supervisor import Supervisor
from guard.executor import Executor
from guard.planner import ActionKind, Flatten, Snapshot, plan
from mraster.domain.ids import (
    FreshIds,
    Role,
    client_order_id,
    fresh_client_order_id,
    is_valid_client_id,
    parse_client_order_id,
    sequence_of,
    stamp_of,
    trade_id_for_adopted,
)
from mraster.domain.types import OrderStatus
from mraster.exchange.errors import UnknownOrderError
from mraster.state import BotState
from tests.safety import test_closeout as closeout_tests
from tests.safety.test_closeout import SYM, _big_long, _held, ex_view

px, ex = closeout_tests.px, closeout_tests.ex          # the paper exchange fixtures of test_closeout.py

D = Decimal
def FIXED_CLOCK() -> int:
    return 1_796_000_000_000


# ------------------------------------------------------------------------ pure
def test_fresh_ids_are_new_every_time_and_read_as_trade_and_role_by_bot_and_guard():
    ids = FreshIds("g", FIXED_CLOCK)
    made = [ids("BTCUSDT.lq3k2x1a", Role.CLOSE) for _ in range(50)]
    assert len(set(made)) == 50, "the same clock tenth still gives each order its own id"
    for cid in made:
        assert is_valid_client_id(cid) and len(cid) <= 36
        assert parse_client_order_id(cid) == ("BTCUSDT.lq3k2x1a", Role.CLOSE)
        assert sequence_of(cid) == 0 and stamp_of(cid)[0] == "g"
    assert made[0] not in {client_order_id("BTCUSDT.lq3k2x1a", Role.CLOSE, n) for n in range(100)}, \
        "never one of the bot's sequence ids"
    dash = FreshIds("d", FIXED_CLOCK)("BTCUSDT.lq3k2x1a", Role.CLOSE)
    assert dash not in made, "guard and dashboard acting in the same tenth differ by their actor letter"


def test_a_trade_id_too_long_for_the_stamp_falls_back_to_the_adopted_id():
    cid = fresh_client_order_id("1000000BABYDOGEUSDT.lq3k2x1a", Role.KILL, "g", "a1b2c3", "LONG")
    assert parse_client_order_id(cid) == ("1000000BABYDOGEUSDT.gl", Role.KILL) and len(cid) <= 36
    with pytest.raises(ValueError):
        fresh_client_order_id("ABCDEFGHIJKLMNOPQRSTUV.gb", Role.CLOSE, "g", "a1b2c3")


def test_a_restart_does_not_reuse_stamps_of_an_earlier_run():
    now = [1_796_000_000_000]
    first = FreshIds("g", lambda: now[0])
    before = {first("BTCUSDT.gb", Role.CLOSE) for _ in range(5)}        # a burst: runs half a second ahead
    now[0] += 1000                                                      # the process restarts a second later
    after = FreshIds("g", lambda: now[0])("BTCUSDT.gb", Role.CLOSE)
    assert after not in before


# ------------------------------------------------------------------ paper exchange
async def _orders_by_id(ex, cids):
    return {cid: await ex.get_order(SYM, client_order_id=cid) for cid in cids}


async def test_guard_close_above_the_lot_maximum_gives_every_chunk_its_own_id(ex):
    pos = await _big_long(ex)
    rules = await ex.symbol_rules()
    p = plan(Snapshot(positions=(pos,), open_orders=(), rules=rules,
                      flatten=Flatten(Role.KILL, "test kill-switch", "kill_switch")))
    closes = [a for a in p.actions if a.kind is ActionKind.CLOSE]
    assert len(closes) == 2 and len({a.request.client_order_id for a in closes}) == 1, "planned: one role id"
    cids: list[str] = []
    executor = Executor(_Recorder(ex, cids), ids=FreshIds("g", FIXED_CLOCK))
    outcomes = await executor.run(p.actions)
    assert all(o.ok for o in outcomes) and await _held(ex) == 0
    assert len(cids) == 2 and len(set(cids)) == 2
    found = await _orders_by_id(ex, cids)
    assert sorted(o.executed_qty for o in found.values()) == [D("10000"), D("20000")]
    assert {parse_client_order_id(c) for c in cids} == {(trade_id_for_adopted(SYM), Role.KILL)}


async def test_guard_close_retried_after_a_refusal_uses_a_new_id(ex):
    """Round 1 plans with a lot maximum the venue does not accept: the 25000 chunk is refused (-4005), the
    5000 one fills. Round 2 plans again with the venue's rules. The planner names the same role id each
    round; the executor sends each order under its own, so the look-up of an old id finds the old order
    and nothing else, and the refused id stays unknown."""
    pos = await _big_long(ex)
    rules = await ex.symbol_rules()
    wrong = {SYM: dataclasses.replace(rules[SYM], market_max_qty=D("25000"))}
    executor = Executor(ex, ids=FreshIds("g", FIXED_CLOCK))
    first = plan(Snapshot(positions=(pos,), open_orders=(), rules=wrong, flatten=Flatten(Role.CLOSE, "t", "flatten")))
    sent1 = []
    executor.exchange = _Recorder(ex, sent1)
    out1 = await executor.run(first.actions)
    assert [o.ok for o in out1 if o.action.kind is ActionKind.CLOSE] == [False, True]
    assert await _held(ex) == D("25000")
    (pos2,) = [q for q in await ex.positions(SYM) if not q.is_flat]
    second = plan(Snapshot(positions=(pos2,), open_orders=(), rules=rules, flatten=Flatten(Role.CLOSE, "t", "flatten")))
    planned = {a.request.client_order_id for a in first.actions + second.actions if a.request is not None}
    assert len(planned) == 1, "the plan alone would have reused one id"
    sent2 = []
    executor.exchange = _Recorder(ex, sent2)
    await executor.run(second.actions)
    assert await _held(ex) == 0
    refused, filled = sent1
    assert len(set(sent1 + sent2)) == 4, "every order its own id, the retry's too"
    with pytest.raises(UnknownOrderError):
        await ex.get_order(SYM, client_order_id=refused)
    old = await ex.get_order(SYM, client_order_id=filled)
    assert old.status is OrderStatus.FILLED and old.executed_qty == D("5000")
    new = await _orders_by_id(ex, sent2)
    assert sorted(o.executed_qty for o in new.values()) == [D("5000"), D("20000")]
    assert old.order_id not in {o.order_id for o in new.values()}


class _Recorder:
    """The paper client, noting the client id of each placement the executor sends."""

    def __init__(self, ex, sent):
        self._ex, self._sent = ex, sent

    def __getattr__(self, name):
        return getattr(self._ex, name)

    async def place_order(self, req):
        self._sent.append(req.client_order_id)
        return await self._ex.place_order(req)


async def test_dashboard_flatten_above_the_lot_maximum_gives_every_chunk_its_own_id(ex):
    pos = await _big_long(ex)
    service = FlattenService(Supervisor({}), lambda: ex_view(ex), lambda: BotState(), ids=FreshIds("d", FIXED_CLOCK))
    report = await service.run("test")
    assert report.ok, report.to_json()
    (closed,) = report.closed
    cids = closed["client_order_ids"]
    assert closed["orders"] == 2 and len(set(cids)) == 2
    assert {parse_client_order_id(c) for c in cids} == {(trade_id_for_adopted(SYM), Role.CLOSE)}
    found = await _orders_by_id(ex, cids)
    assert sorted(o.executed_qty for o in found.values()) == [D("10000"), D("20000")]
    assert pos.qty == D("30000") and await _held(ex) == 0
