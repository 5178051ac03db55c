"""Client order ids: unique per order (a sequence after the first of a role), unique per adoption."""
from __future__ import annotations

import pytest

from mraster.domain.ids import (Role, client_order_id, is_valid_client_id, parse_client_order_id, sequence_of,
                            trade_id_for_adopted)


def test_later_orders_of_a_role_carry_a_sequence_and_parse_back_to_the_same_trade_and_role():
    tid = "BTCUSDT.lq3k2x1a"
    ids = [client_order_id(tid, Role.CLOSE, n) for n in range(40)]
    assert ids[0] == "mr-BTCUSDT.lq3k2x1a-CL" and ids[1] == "mr-BTCUSDT.lq3k2x1a-CL1" and ids[36] == "mr-BTCUSDT.lq3k2x1a-CL10"
    assert len(set(ids)) == 40 and all(is_valid_client_id(c) for c in ids)
    assert {parse_client_order_id(c) for c in ids} == {(tid, Role.CLOSE)}
    assert [sequence_of(c) for c in ids] == list(range(40))
    assert sequence_of("web_manual") == 0 and parse_client_order_id("mr-X.a-CL-") is None
    with pytest.raises(ValueError):
        client_order_id(tid, Role.CLOSE, -1)


def test_each_adoption_has_its_own_trade_id_and_the_guard_keeps_its_stable_one():
    assert trade_id_for_adopted("ETHUSDT") == "ETHUSDT.gb"
    first = trade_id_for_adopted("ETHUSDT", "BOTH", 1_700_000_000_000)
    second = trade_id_for_adopted("ETHUSDT", "BOTH", 1_700_000_060_000)
    assert first != second and first.startswith("ETHUSDT.gb")
    for tid in (first, second):
        assert parse_client_order_id(client_order_id(tid, Role.STOP_ALT, 5)) == (tid, Role.STOP_ALT)
