"""The guard's executor never sends a second order under an id an earlier order carried (issue 12 item
4), on the in-memory venue (exact call order needed). Closes: tests/safety/test_close_ids.py."""
from __future__ import annotations

from decimal import Decimal

from guard.executor import Executor
from guard.planner import Action, ActionKind, stop_request
from mraster.domain.ids import (
    FreshIds,
    Role,
    client_order_id,
    parse_client_order_id,
    stamp_of,
)
from mraster.domain.types import OrderStatus, WorkingType
from tests.guard.builders import pos

TRADE = "BTCUSDT.lq3k2x1a"
SL = client_order_id(TRADE, Role.STOP)


def _place_stop(cancel_before=()) -> Action:
    req = stop_request(pos(), SL, Decimal(29000), WorkingType.MARK_PRICE)
    return Action(ActionKind.PLACE, "BTCUSDT", "bracket.placed", "test", request=req, cancel_before=cancel_before)


async def test_a_stop_placed_again_gets_a_new_id_and_the_old_one_finds_only_the_old_order(fake):
    fake.set_position("BTCUSDT", "0.5", "30000")
    executor = Executor(fake, ids=FreshIds("g", lambda: 1_796_000_000_000))
    (first,) = await executor.run([_place_stop()])
    assert first.ok and [o.client_order_id for o in fake.open()] == [SL], "a first placement keeps the planned id"
    (old,) = fake.open()
    await fake.cancel_order("BTCUSDT", order_id=old.order_id)          # the venue cancels it
    (again,) = await executor.run([_place_stop()])                    # the planner names SL again
    (new,) = fake.open()
    assert again.ok and new.client_order_id != SL and stamp_of(new.client_order_id)[0] == "g"
    assert parse_client_order_id(new.client_order_id) == (TRADE, Role.STOP), "the bot still reads it as the stop"
    looked_up = await fake.get_order("BTCUSDT", client_order_id=SL)
    assert looked_up.order_id == old.order_id and looked_up.status is OrderStatus.CANCELED


async def test_with_a_new_id_the_order_holding_the_planned_one_is_cancelled_after_not_before(fake):
    fake.set_position("BTCUSDT", "0.5", "30000")
    executor = Executor(fake, ids=FreshIds("g", lambda: 1_796_000_000_000))
    await executor.run([_place_stop()])
    (holder,) = fake.open()
    fake.calls.clear()
    (out,) = await executor.run([_place_stop(cancel_before=(holder,))])
    assert out.ok
    assert [name for name, _ in fake.calls] == ["place_order", "cancel_order"], "no moment without a stop"
    (rest,) = fake.open()
    assert rest.client_order_id != SL and parse_client_order_id(rest.client_order_id) == (TRADE, Role.STOP)
