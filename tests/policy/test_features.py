"""Context features, their standardisation, the feature-list setting and the configuration."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mraster.settings import SettingsError, load_settings
from mraster.settings import FIELDS_BY_ENV
from ml_policy import FEATURE_NAMES, PolicyConfig
from ml_policy.features import CLIP, FEATURES, PRIOR_WEIGHT, FeatureMap, parse_feature_list, raw_features

from tests.policy.synth import T0_MS, make_ctx, with_numpy_scalars

DOCS = Path(__file__).resolve().parents[2] / "docs" / "policy.md"


def test_feature_list_parsing_and_clear_errors():
    assert parse_feature_list("all") == FEATURE_NAMES
    assert parse_feature_list(" Side , rsi ") == ("rsi", "side")          # canonical order, case-folded
    with pytest.raises(ValueError) as exc:
        parse_feature_list("rsi,moon_phase")
    assert "moon_phase" in str(exc.value) and "liquidity_rank" in str(exc.value)


def test_bad_feature_setting_is_a_settings_error_naming_the_variable():
    """Caught when settings load (so `mraster config check` and the dashboard reject it), not only when
    the policy starts."""
    with pytest.raises(SettingsError, match="ASTER_BANDIT_FEATURES.*bogus"):
        load_settings(env={"ASTER_BANDIT_FEATURES": "rsi,bogus"}, use_files=False)


def test_settings_schema_lists_exactly_the_policy_features():
    assert FIELDS_BY_ENV["ASTER_BANDIT_FEATURES"].choices == FEATURE_NAMES


def test_config_from_settings_takes_every_policy_value():
    loaded = load_settings(env={"ASTER_BANDIT_ALPHA": "1.3", "ASTER_BANDIT_LAMBDA": "2", "ASTER_BANDIT_SEED": "5",
                                "ASTER_ALPHA_MIN_TRADES": "12", "ASTER_SIZE_MULT_L": "2.5",
                                "ASTER_BANDIT_ENABLED": "false", "ASTER_BANDIT_FEATURES": "rsi,spread"},
                           use_files=False)
    cfg = PolicyConfig.from_settings(loaded.settings)
    assert (cfg.alpha, cfg.lam, cfg.seed, cfg.min_trades, cfg.enabled) == (1.3, 2.0, 5, 12, False)
    assert cfg.size_mults == {"S": 1.0, "M": 1.4, "L": 2.5} and cfg.features == ("rsi", "spread")
    assert cfg.size_mult("SKIP") == 0.0
    with pytest.raises(ValueError, match="alpha"):
        PolicyConfig(alpha=-1.0)


def test_every_feature_is_documented():
    text = DOCS.read_text()
    for spec in FEATURES:
        assert f"`{spec.name}`" in text, spec.name
    assert len(FEATURE_NAMES) + 1 == 16, "bias + 15 features: the benchmark's 16 dimensions"


def test_raw_features_follow_their_definitions(ctx):
    raw = dict(zip(FEATURE_NAMES, raw_features(ctx)))
    assert raw["rsi"] == pytest.approx(ctx.side * (ctx.rsi - 50) / 50)
    assert raw["trend_agree"] == pytest.approx(raw["rsi"] * raw["htf_rsi"])
    assert raw["atr"] == pytest.approx(math.log(ctx.atr_frac))
    assert raw["spread"] == pytest.approx(ctx.spread_frac * 1e4)
    assert raw["spread_atr"] == pytest.approx(ctx.spread_frac / ctx.atr_frac)
    assert raw["funding"] == pytest.approx(ctx.side * ctx.funding_rate * 1e4)
    assert raw["side"] == ctx.side


@pytest.mark.parametrize("hour,weekday,weekend", [(0, 1, 0.0), (6, 5, 1.0), (18, 6, 1.0), (12, 0, 0.0)])
def test_time_of_day_is_cyclic_and_weekend_is_utc(hour, weekday, weekend, ctx):
    monday = T0_MS - (T0_MS % 86_400_000) - 86_400_000           # T0 is a Tuesday
    t = monday + weekday * 86_400_000 + hour * 3_600_000
    raw = dict(zip(FEATURE_NAMES, raw_features(ctx.__class__(**{**ctx.to_json(), "time_ms": t}))))
    assert raw["tod_sin"] == pytest.approx(math.sin(2 * math.pi * hour / 24), abs=1e-12)
    assert raw["tod_cos"] == pytest.approx(math.cos(2 * math.pi * hour / 24), abs=1e-12)
    assert raw["weekend"] == weekend


def test_running_standardisation_equals_the_pooled_statistics(rng):
    fm = FeatureMap(("rsi", "spread", "wickiness"))
    rows = np.array([fm.select(make_ctx(rng, i)) for i in range(500)])
    for row in rows:
        fm.observe(row)
    prior_mean = np.array([s.prior_mean for s in FEATURES if s.name in fm.names])
    prior_scale = np.array([s.prior_scale for s in FEATURES if s.name in fm.names])
    n, w = len(rows), PRIOR_WEIGHT
    mean = (w * prior_mean + rows.sum(0)) / (w + n)
    spread = ((rows - rows.mean(0)) ** 2).sum(0)
    m2 = w * prior_scale ** 2 + spread + w * n / (w + n) * (rows.mean(0) - prior_mean) ** 2
    np.testing.assert_allclose(fm.mean, mean, rtol=1e-10)
    np.testing.assert_allclose(fm.scale(), np.sqrt(m2 / (w + n)), rtol=1e-10)
    x = fm.transform(rows[0])
    assert x[0] == 1.0
    np.testing.assert_allclose(x[1:], np.clip((rows[0] - mean) / np.sqrt(m2 / (w + n)), -CLIP, CLIP), rtol=1e-9)


def test_outliers_are_clipped(ctx):
    fm = FeatureMap(FEATURE_NAMES)
    huge = ctx.__class__(**{**ctx.to_json(), "spread_frac": 0.5})
    x = fm.transform(fm.select(huge))
    assert np.all(np.abs(x[1:]) <= CLIP) and x[1 + FEATURE_NAMES.index("spread")] == CLIP


def test_numpy_scalars_are_accepted_like_floats(ctx):
    as_numpy = with_numpy_scalars(ctx)
    np.testing.assert_array_equal(raw_features(as_numpy), raw_features(ctx))
