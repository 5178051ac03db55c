"""Per-symbol parameters of the momentum engine: seed 002's config_grid.json keys, one value each.

The file (default `<ASTER_RUN_DIR>/momentum_params.json`, setting PARAMS_FILE of the momentum kind) has
the shape of the backtester's grid file with a single value per key, so a configuration ranked by
`mraster backtest sweep` is applied by copying its row; the dashboard's Backtest page "Apply" writes it
(dashboard/services/backtests.py), atomically, keeping the other symbols:

    {"version": 1,
     "symbols": {"ETHUSDT": {"k": 2.0, "T": 30, "n": 2.0, "V": 30, "tp_bps": 60, "sl_bps": 40,
                             "activation_bps": 15, "activation_buffer_bps": 2, "callback_bps": 10,
                             "min_tp_gap_bps": 5, "spread_max": 5, "funding_max": 5, "cooldown_min": 5}},
     "applied": {"ETHUSDT": {"job": "20261205T072944-caa46d", "config_id": 4, "rank": 1, ...}},
     "updated_at": "2026-12-05T07:29:50+00:00"}

Every key of MOMENTUM_KEYS is required per symbol (a missing key is an error naming it, as in the grid
file); `cooldown_min` (whole minutes) and `config_id` (the sweep's id, recorded with each trade) are
optional; `applied` and the other top-level keys are provenance. A symbol the file does not name trades on the engine's
defaults. Nothing here imports an application: the dashboard and the engine both use it.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mraster.storage.atomic import read_json_checked, write_json_atomic

MOMENTUM_KEYS: tuple[str, ...] = ("k", "T", "n", "V", "tp_bps", "sl_bps", "activation_bps",
                                  "activation_buffer_bps", "callback_bps", "min_tp_gap_bps", "spread_max",
                                  "funding_max")
OPTIONAL_KEYS: tuple[str, ...] = ("cooldown_min", "config_id")
INT_KEYS = frozenset({"T", "V", "cooldown_min"})
CALLBACK_MIN_BPS, CALLBACK_MAX_BPS = 10.0, 500.0      # callbackRate 0.1 % .. 5 % (Aster)


class ParamsError(ValueError):
    """The parameter file or one symbol's entry is wrong; the message names the symbol and key."""


@dataclass(frozen=True, slots=True)
class SymbolParams:
    k: float
    T: int
    n: float
    V: int
    tp_bps: float
    sl_bps: float
    activation_bps: float
    activation_buffer_bps: float
    callback_bps: float
    min_tp_gap_bps: float
    spread_max: float
    funding_max: float
    cooldown_min: int | None = None          # None: the engine's COOLDOWN_MIN
    config_id: str | None = None             # the sweep's configuration id, when applied from a ranking

    @property
    def warmup_bars(self) -> int:
        """Closed bars needed before the first signal: both windows full before the bar judged."""
        return max(self.T, self.V) + 1

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _check(sym: str, key: str, v: Any) -> Any:
    where = f"symbol {sym}, key {key!r}"
    if key == "config_id":
        if isinstance(v, bool) or not isinstance(v, (str, int)) or str(v) == "":
            raise ParamsError(f"{where}: must be a number or text, got {v!r}")
        return str(v)
    if isinstance(v, list):
        raise ParamsError(f"{where}: one value per key (a list is a grid: run the sweep and apply one row)")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ParamsError(f"{where}: must be a finite number, got {v!r}")
    if key in INT_KEYS:
        low = 0 if key == "cooldown_min" else 1
        if int(v) != v or v < low:
            raise ParamsError(f"{where}: must be a whole number >= {low}, got {v!r}")
        return int(v)
    if v < 0:
        raise ParamsError(f"{where}: must be >= 0, got {v!r}")
    if key == "callback_bps" and not CALLBACK_MIN_BPS <= v <= CALLBACK_MAX_BPS:
        raise ParamsError(f"{where}: the venue's trailing callback is {CALLBACK_MIN_BPS:g}..{CALLBACK_MAX_BPS:g} "
                          f"bps (0.1-5 %), got {v!r}")
    return float(v)


def parse_symbol(sym: str, obj: Any) -> SymbolParams:
    if not isinstance(obj, dict):
        raise ParamsError(f"symbol {sym}: must be an object of key -> value")
    missing = [k for k in MOMENTUM_KEYS if k not in obj]
    if missing:
        raise ParamsError(f"symbol {sym}: missing required key(s) {', '.join(repr(k) for k in missing)}")
    unknown = sorted(set(obj) - set(MOMENTUM_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise ParamsError(f"symbol {sym}: unknown key(s) {unknown}")
    return SymbolParams(**{k: _check(sym, k, obj[k]) for k in (*MOMENTUM_KEYS, *OPTIONAL_KEYS) if k in obj})


def parse_params(obj: Any) -> dict[str, SymbolParams]:
    """Symbol -> parameters from the file's JSON; ParamsError naming what is wrong. The dashboard's Apply
    records where each symbol's row came from in `applied` ({job, config_id, ...}); that becomes the
    symbol's `config_id` (`<job>#<config_id>`: a sweep's ids are unique within its job) unless the entry
    names one itself."""
    if not isinstance(obj, dict) or not isinstance(obj.get("symbols"), dict):
        raise ParamsError('the parameter file must be an object with a "symbols" map')
    if obj.get("strategy", "momentum") != "momentum":
        raise ParamsError(f"strategy {obj.get('strategy')!r}: this file is for the momentum engine")
    raw_applied = obj.get("applied")
    applied: dict[str, Any] = raw_applied if isinstance(raw_applied, dict) else {}
    out: dict[str, SymbolParams] = {}
    for sym, entry in obj["symbols"].items():
        if not isinstance(sym, str) or not sym.isalnum() or sym.upper() != sym:
            raise ParamsError(f"symbol {sym!r}: expected an upper-case symbol such as ETHUSDT")
        src = applied.get(sym)
        if isinstance(entry, dict) and "config_id" not in entry and isinstance(src, dict) \
                and src.get("config_id") is not None:
            entry = {**entry, "config_id": f"{src.get('job', 'sweep')}#{src['config_id']}"}
        out[sym] = parse_symbol(sym, entry)
    return out


def defaults_from(values: dict[str, Any]) -> SymbolParams:
    """The engine's default parameters from its settings (the kind's settings use the same key names)."""
    return parse_symbol("(defaults)", {k: values[k] for k in MOMENTUM_KEYS})


def params_digest(params: SymbolParams) -> str:
    """A short id of a parameter set, recorded with each trade when there is no sweep config_id."""
    text = json.dumps({k: getattr(params, k) for k in MOMENTUM_KEYS}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def load_params(path: Path | str) -> dict[str, SymbolParams] | None:
    """The file's parameters; None when there is no file. A file that cannot be read or is invalid is
    moved aside and CorruptFileError raised (the engine keeps what it had and reports it)."""
    def validate(obj: Any) -> dict[str, SymbolParams]:
        return parse_params(obj)
    result: dict[str, SymbolParams] | None = read_json_checked(path, validate)
    return result


def write_params(path: Path | str, params: dict[str, SymbolParams],
                 applied: dict[str, dict[str, Any]] | None = None) -> None:
    """Write atomically in the dashboard's shape (validated the same way it is read)."""
    obj: dict[str, Any] = {"version": 1, "symbols": {s: p.to_json() for s, p in sorted(params.items())}}
    if applied:
        obj["applied"] = applied
    parse_params(obj)
    write_json_atomic(path, obj)
