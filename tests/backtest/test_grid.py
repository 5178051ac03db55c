"""The configuration file: every required key checked per symbol, the error names key and symbol."""
from __future__ import annotations

import json

import pytest

from backtest.grid import MOMENTUM_KEYS, GridError, expand, load_grid, settings_of

BASE = {"k": [1.5, 2.0], "T": 30, "n": [1.5, 2.0], "V": 60, "tp_bps": 30, "sl_bps": [20, 40],
        "activation_bps": 15, "activation_buffer_bps": 2, "callback_bps": 5, "min_tp_gap_bps": 5,
        "spread_max": 5, "funding_max": 5}


def test_cartesian_product_per_symbol_with_defaults():
    cfg = {"default_grid": BASE, "symbols": {"AUSDT": {}, "BUSDT": {"k": [1, 2, 3], "cooldown_min": [0, 5]}}}
    strategy, df = expand(cfg)
    assert strategy == "momentum"
    assert (df.symbol == "AUSDT").sum() == 8 and (df.symbol == "BUSDT").sum() == 24
    assert df.config_id.tolist() == list(range(32))
    assert df[df.symbol == "BUSDT"].k.unique().tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("key", MOMENTUM_KEYS)
def test_missing_key_names_key_and_symbol(key):
    grid = {k: v for k, v in BASE.items() if k != key}
    with pytest.raises(GridError, match=f"symbol BUSDT: missing required key '{key}'"):
        expand({"symbols": {"AUSDT": BASE, "BUSDT": grid}})


def test_bad_values_and_unknowns():
    with pytest.raises(GridError, match="symbol AUSDT, key 'T'"):
        expand({"symbols": {"AUSDT": {**BASE, "T": 2.5}}})
    with pytest.raises(GridError, match="symbol AUSDT, key 'k'"):
        expand({"symbols": {"AUSDT": {**BASE, "k": "x"}}})
    with pytest.raises(GridError, match="unknown keys"):
        expand({"symbols": {"AUSDT": {**BASE, "kk": 1}}})
    with pytest.raises(GridError, match="not in the inputs"):
        expand({"symbols": {"ZUSDT": BASE}}, ["AUSDT"])
    with pytest.raises(GridError, match="missing required key 'interval'"):
        expand({"strategy": "scanner", "symbols": {"AUSDT": {}}})
    with pytest.raises(GridError, match="stop_exit_price"):
        settings_of({"settings": {"stop_exit_price": "close"}})


def test_load_grid_errors(tmp_path):
    p = tmp_path / "g.json"
    p.write_text("{nope")
    with pytest.raises(GridError, match="not valid JSON"):
        load_grid(p)
    p.write_text(json.dumps({"symbols": {}}))
    with pytest.raises(GridError, match="non-empty"):
        load_grid(p)
    with pytest.raises(GridError, match="does not exist"):
        load_grid(tmp_path / "missing.json")
