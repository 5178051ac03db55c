"""Fixtures of the guard's tests: settings, a fake venue for unit tests, accounts and guard children
for the integration tests (each integration module defines its own `px` venue)."""
from __future__ import annotations

import pytest

from mraster.settings import default_settings

from tests.guard.builders import RULES
from tests.guard.fake_exchange import FakeExchange
from tests.guard.integration import Guards, account_key
from tests.guard.venue import Account


@pytest.fixture
def settings(tmp_path):
    return default_settings().with_values(state_file=str(tmp_path / "aster_state.json"),
                                          run_dir=str(tmp_path / "run"), log_dir=str(tmp_path / "logs"),
                                          guard_interval=0.3)


@pytest.fixture
def fake():
    return FakeExchange(RULES)


# ------------------------------------------------------------ integration (a module defines `px`)
@pytest.fixture
async def account(px, request):
    acct = Account(px, account_key(request))
    yield acct
    await acct.close()


@pytest.fixture
def guards(px, account, tmp_path):
    g = Guards(px, account, tmp_path)
    yield g
    g.stop_all()
