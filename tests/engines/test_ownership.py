"""Client order ids name the instance that placed the order, stay within the venue's rules, and never repeat."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, strategies as st

from mraster.domain.ids import MAX_LEN
from mraster.domain.ownership import (
    DEFAULT_SCANNER, OrderIds, body_of, check_instance_name, order_id, owner_of, owns,
)

VENUE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")


def test_owner_is_read_back_from_the_id():
    cid = order_id("mom1", "ETHUSDT.EN.x")
    assert cid == "mom1:ETHUSDT.EN.x" and owner_of(cid) == "mom1" and body_of(cid) == "ETHUSDT.EN.x"
    assert owns("mom1", cid) and not owns("mom2", cid)


def test_legacy_scanner_ids_belong_to_the_default_scanner_and_foreign_ids_to_nobody():
    assert owner_of("mr-abc123-sl") == DEFAULT_SCANNER
    assert owner_of("web_8f3a") is None and owner_of(None) is None and owner_of("") is None
    assert not owns("scanner", "manual-order")


@pytest.mark.parametrize("bad", ["", "Mom", "1abc", "a" * 11, "mo-m", "mö"])
def test_bad_instance_names_are_refused_with_the_rule(bad):
    with pytest.raises(ValueError, match="lower-case letter"):
        check_instance_name(bad)


def test_too_long_or_bad_bodies_are_refused():
    with pytest.raises(ValueError):
        order_id("mom1", "x" * 35)
    with pytest.raises(ValueError):
        order_id("mom1", "a:b")


@given(instance=st.from_regex(r"[a-z][a-z0-9]{0,9}", fullmatch=True),
       tag=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", min_size=1, max_size=40))
def test_generated_ids_fit_the_venue_and_name_their_owner(instance, tag):
    cid = OrderIds(instance, clock_ms=lambda: 1_800_000_000_000)(tag)
    assert len(cid) <= MAX_LEN and VENUE.match(cid) and owner_of(cid) == instance


def test_ids_are_unique_even_when_the_clock_stands_still_or_steps_back():
    times = iter([1_800_000_000_000] * 500 + [1_799_999_999_000] * 500)
    ids = OrderIds("maker2", clock_ms=lambda: next(times))
    made = [ids("BTCUSDT.MK") for _ in range(1000)]
    assert len(set(made)) == 1000
    assert made == sorted(made, key=lambda c: int(c.rsplit(".", 1)[1], 36)), "stamps only increase"
