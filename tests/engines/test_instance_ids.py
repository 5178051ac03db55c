"""A scanner instance's ids name it (trade and role read back), fit the venue, and the default scanner's
ids are unchanged; owners of positions come from claims, then resting orders."""
from __future__ import annotations

import json
import re
from decimal import Decimal

from hypothesis import given, strategies as st

from mraster.domain.ids import (
    FreshIds, Role, client_order_id, instance_of_trade, parse_client_order_id, sequence_of, stamp_of,
    trade_id_for_adopted, trade_id_for_entry,
)
from mraster.domain.ownership import owner_of
from mraster.domain.types import Order, OrderStatus, OrderType, PositionSide, Side
from mraster.engines import EngineInstance
from mraster.engines.owners import AccountOwners, conflicts, read_claims, resolve_owners, write_status

VENUE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
NOW = 1_790_000_000_000


def test_default_scanner_ids_are_exactly_as_before():
    tid = trade_id_for_entry("BTCUSDT", NOW)
    assert tid == trade_id_for_entry("BTCUSDT", NOW, "scanner") and ":" not in tid
    assert client_order_id(tid, Role.STOP, 2) == f"mr-{tid}-SL2"
    assert trade_id_for_adopted("ETHUSDT") == "ETHUSDT.gb"
    assert owner_of(client_order_id(tid, Role.STOP)) == "scanner" and instance_of_trade(tid) == "scanner"


def test_instance_ids_name_the_instance_and_read_back():
    tid = trade_id_for_entry("BTCUSDT", NOW, "scan2")
    cid = client_order_id(tid, Role.TAKE_PROFIT_ALT, 3)
    assert cid.startswith("scan2:BTCUSDT.") and owner_of(cid) == "scan2"
    assert parse_client_order_id(cid) == (tid, Role.TAKE_PROFIT_ALT) and sequence_of(cid) == 3
    guard_id = FreshIds("g", clock_ms=lambda: NOW)(tid, Role.CLOSE)
    assert owner_of(guard_id) == "scan2" and parse_client_order_id(guard_id) == (tid, Role.CLOSE)
    assert stamp_of(guard_id) is not None
    assert trade_id_for_adopted("ETHUSDT", "BOTH", instance="scan2") == "scan2:ETHUSDT.gb"


@given(instance=st.from_regex(r"[a-z][a-z0-9]{0,9}", fullmatch=True),
       symbol=st.from_regex(r"[A-Z0-9]{2,24}", fullmatch=True),
       seq=st.integers(0, 36 ** 2 - 1), role=st.sampled_from(list(Role)))
def test_every_id_of_any_instance_fits_the_venue_and_names_its_owner(instance, symbol, seq, role):
    tid = trade_id_for_entry(symbol, NOW, instance)
    for cid in (client_order_id(tid, role, seq), FreshIds("g", clock_ms=lambda: NOW)(tid, role),
                FreshIds("d", clock_ms=lambda: NOW)(trade_id_for_adopted(symbol, "LONG", NOW, instance), role)):
        assert len(cid) <= 36 and VENUE.match(cid), cid
        assert owner_of(cid) == instance and parse_client_order_id(cid) is not None


def order(symbol: str, cid: str) -> Order:
    return Order(symbol, 1, cid, Side.SELL, OrderType.STOP_MARKET, OrderStatus.NEW, Decimal(0),
                 stop_price=Decimal("90"), position_side=PositionSide.BOTH, close_position=True)


def test_owners_come_from_claims_then_resting_orders(tmp_path):
    write_status(tmp_path / "scan2.status.json", instance="scan2", kind="scanner", account="A",
                 positions=[("A", "BTCUSDT", "BOTH"), ("B", "ETHUSDT", "BOTH")])
    assert read_claims(tmp_path / "scan2.status.json", "A") == {("BTCUSDT", "BOTH")}
    (tmp_path / "bad.status.json").write_text("{not json")
    assert read_claims(tmp_path / "bad.status.json", "A") == frozenset()
    instances = [EngineInstance("scan2", "scanner", (("account", "A"),)),
                 EngineInstance("mk1", "scanner", (("account", "A"),), guard="leave"),
                 EngineInstance("far", "scanner", (("account", "B"),))]
    owners = AccountOwners(tmp_path, "A", instances).refresh()
    assert [i.name for i in owners.instances] == ["scan2", "mk1"] and owners.has_leave
    keys = [("BTCUSDT", "BOTH"), ("SOLUSDT", "BOTH"), ("XRPUSDT", "BOTH")]
    got = owners.owners(keys, [order("SOLUSDT", "mk1:SOLUSDT.q.abc"), order("BTCUSDT", "mk1:BTCUSDT.q.abd"),
                               order("XRPUSDT", "byhand")])
    assert got == {("BTCUSDT", "BOTH"): "scan2", ("SOLUSDT", "BOTH"): "mk1", ("XRPUSDT", "BOTH"): None}
    assert owners.scope_of("mk1") == "leave" and owners.scope_of("scan2") == "protect"
    assert owners.scope_of("gone") == "protect"
    both = {"a": frozenset({("X", "BOTH")}), "b": frozenset({("X", "BOTH")})}
    assert conflicts(both) == {("X", "BOTH"): ["a", "b"]}
    assert resolve_owners([("X", "BOTH")], both, []) == {("X", "BOTH"): "a"}
    assert json.loads((tmp_path / "scan2.status.json").read_text())["instance"] == "scan2"


def test_account_wide_settings_per_named_account(tmp_path):
    import pytest
    from mraster.accounts import AccountError, load_accounts, settings_for_account
    from mraster.settings import load_settings
    env = {"ASTER_ACCOUNTS": "B", "ASTER_B_ACCOUNT_MAX_POSITIONS": "3", "ASTER_B_GUARD_MANUAL": "leave",
           "ASTER_PAPER": "true", "ASTER_CONFIG_FILE": str(tmp_path / "c.json"), "ASTER_DOTENV_FILE": str(tmp_path / "e")}
    main = load_settings(env=env).settings
    b = settings_for_account(main, load_accounts(env)["B"])
    assert (b.account_max_positions, b.guard_manual, b.api_key) == (3, "leave", "paper-b")
    assert (main.account_max_positions, main.guard_manual) == (0, "protect")
    with pytest.raises(AccountError, match="ASTER_B_ACCOUNT_MAX_POSITIONS"):
        load_accounts({**env, "ASTER_B_ACCOUNT_MAX_POSITIONS": "many"})


def test_owner_of_position_reads_the_claims_on_disk_now(tmp_path):
    from mraster.domain.types import Position
    owners = AccountOwners(tmp_path, "A", [EngineInstance("mk1", "scanner", (("account", "A"),))])
    p = Position("ETHUSDT", PositionSide.BOTH, Decimal("1"), Decimal("100"))
    assert owners.owner_of_position(p) is None
    write_status(tmp_path / "mk1.status.json", instance="mk1", kind="scanner", account="A",
                 positions=[("A", "ETHUSDT", "BOTH")])
    assert owners.owner_of_position(p) == "mk1"
