"""Fixtures of the paper-exchange tests: real child processes on free ports, in tmp dirs."""
from __future__ import annotations

import pytest

from paper.testing import PaperExchange


@pytest.fixture(scope="session")
def px(tmp_path_factory):
    """One paper exchange (synthetic feed, admin on) shared by the API, fault and client tests; each test
    uses its own API key (its own account), and the fault tests clear their faults."""
    with PaperExchange(tmp_path_factory.mktemp("paper"), symbols=("BTCUSDT", "ETHUSDT"), seed=7) as exchange:
        yield exchange
