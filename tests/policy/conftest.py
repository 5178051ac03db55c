"""Fixtures of the policy tests (helpers live in synth.py)."""
from __future__ import annotations

import numpy as np
import pytest

from ml_policy import SignalContext

from tests.policy.synth import make_ctx


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def ctx(rng) -> SignalContext:
    return make_ctx(rng, 0)
