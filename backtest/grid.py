"""The sweep's configuration file: per-symbol nested grids, expanded to one row per configuration.

Shape (docs/backtest.md):
    {"strategy": "momentum",                       # or "scanner"
     "settings": {"taker_fee_bps": 5, ...},        # execution settings, see SETTINGS_DEFAULTS
     "default_grid": {"k": [1.5, 2], ...},          # optional, merged under every symbol's grid
     "symbols": {"LINKUSDT": {"k": [2, 3], "T": 30, ...}, ...}}
A value is a scalar or a list of values; the cartesian product per symbol gives its configurations.
"""
from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from mraster.signals.momentum_params import MOMENTUM_KEYS   # one key list: the grid and the live engine's file

SCANNER_KEYS = ("interval", "htf_interval", "rsi_buy_min", "rsi_sell_max", "trend_align", "align_pad",
                "sl_atr_mult", "tp_atr_mult")
OPTIONAL_KEYS = {"cooldown_min": None}           # None: from settings
INT_KEYS = {"T", "V", "cooldown_min"}
STRATEGIES = {"momentum": MOMENTUM_KEYS, "scanner": SCANNER_KEYS}
INTERVALS = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240}

SETTINGS_DEFAULTS: dict[str, Any] = {
    "taker_fee_bps": 5.0,           # Binance USD-M standard taker fee 0.05 %; set the venue's rate
    "extra_slippage_bps": 0.5,      # on top of half the spread, per order
    "notional_usd": 1000.0,         # per entry
    "cooldown_min": 5,              # bars after an exit before a signal counts again
    "stop_exit_price": "stop_market",   # or "price" (seed 002's literal vectorbt setting)
    "train_frac": 0.7,              # walk-forward: first 70 % of each symbol's bars in-sample
    "chunk_size": 256,              # configurations per engine call
    "entry_halt_utc": None,         # "HH:MM": no entries from then to midnight (the live engine: "23:00")
    "force_exit_utc": None,         # "HH:MM": close open positions from then on (the live engine: "23:50")
}
STOP_EXIT_MODES = {"stop_market": 0, "price": 1}


class GridError(ValueError):
    pass


def _as_list(v: Any) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def load_grid(path: str | Path) -> dict:
    p = Path(path)
    try:
        cfg = json.loads(p.read_text())
    except FileNotFoundError as exc:
        raise GridError(f"config file {p} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise GridError(f"config file {p} is not valid JSON: {exc}") from exc
    if not isinstance(cfg, dict) or not isinstance(cfg.get("symbols"), dict) or not cfg["symbols"]:
        raise GridError(f"config file {p}: needs an object with a non-empty \"symbols\" map")
    return cfg


def settings_of(cfg: dict) -> dict[str, Any]:
    s = dict(SETTINGS_DEFAULTS)
    extra = cfg.get("settings", {}) or {}
    unknown = set(extra) - set(s)
    if unknown:
        raise GridError(f"unknown settings {sorted(unknown)} (known: {sorted(s)})")
    s.update(extra)
    if s["stop_exit_price"] not in STOP_EXIT_MODES:
        raise GridError(f"settings.stop_exit_price must be one of {sorted(STOP_EXIT_MODES)}")
    if not 0 < float(s["train_frac"]) <= 1:
        raise GridError("settings.train_frac must be in (0, 1]")
    for key in ("entry_halt_utc", "force_exit_utc"):
        v = s[key]
        if v is not None and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", str(v)):
            raise GridError(f"settings.{key} must be \"HH:MM\" (UTC) or null, got {v!r}")
    return s


def _check_value(strategy: str, sym: str, key: str, v: Any) -> Any:
    where = f"symbol {sym}, key {key!r}"
    if key in ("interval", "htf_interval"):
        if v not in INTERVALS:
            raise GridError(f"{where}: {v!r} is not one of {list(INTERVALS)}")
        return v
    if key == "trend_align":
        if not isinstance(v, bool):
            raise GridError(f"{where}: must be true or false, got {v!r}")
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise GridError(f"{where}: must be a finite number, got {v!r}")
    if key in INT_KEYS:
        if int(v) != v or v < (0 if key == "cooldown_min" else 1):
            raise GridError(f"{where}: must be a whole number >= {0 if key == 'cooldown_min' else 1}, got {v!r}")
        return int(v)
    if v < 0:
        raise GridError(f"{where}: must be >= 0, got {v!r}")
    return float(v)


def expand(cfg: dict, symbols_available: list[str] | None = None) -> tuple[str, pd.DataFrame]:
    """(strategy, one row per configuration: config_id, symbol, parameters). Every required key is
    checked per symbol; the error names the key and the symbol."""
    strategy = cfg.get("strategy", "momentum")
    if strategy not in STRATEGIES:
        raise GridError(f"unknown strategy {strategy!r} (known: {sorted(STRATEGIES)})")
    keys = STRATEGIES[strategy]
    default = cfg.get("default_grid", {}) or {}
    rows: list[dict] = []
    for sym, grid in cfg["symbols"].items():
        if not isinstance(grid, dict):
            raise GridError(f"symbol {sym}: grid must be an object of key -> value or list")
        if symbols_available is not None and sym not in symbols_available:
            raise GridError(f"symbol {sym}: not in the inputs (have {', '.join(sorted(symbols_available))})")
        merged = {**default, **grid}
        for key in keys:
            if key not in merged:
                raise GridError(f"symbol {sym}: missing required key {key!r}")
        unknown = set(merged) - set(keys) - set(OPTIONAL_KEYS)
        if unknown:
            raise GridError(f"symbol {sym}: unknown keys {sorted(unknown)}")
        names = list(keys) + [k for k in OPTIONAL_KEYS if k in merged]
        values = []
        for k in names:
            vals = _as_list(merged[k])
            if not vals:
                raise GridError(f"symbol {sym}, key {k!r}: empty list")
            values.append([_check_value(strategy, sym, k, v) for v in vals])
        for combo in itertools.product(*values):
            rows.append({"symbol": sym, **dict(zip(names, combo))})
    df = pd.DataFrame(rows)
    df.insert(0, "config_id", range(len(df)))
    return strategy, df
