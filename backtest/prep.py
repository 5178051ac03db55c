"""From the feature table to the engine's inputs: bar arrays, signals and parameter rows per strategy.

Signals come from the shared strategy code only: `mraster.signals.momentum` (the momentum engine's
function) and `mraster.signals.signals` (the scanner's RSI/ATR functions, the same the bot calls).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from mraster.signals.indicators import atr as _atr
from mraster.signals.indicators import rsi as _rsi
from mraster.signals import momentum as mom
from mraster.signals.signals import SignalParams, align_htf, signal_side

from backtest.engine import KIND_ATR, KIND_MOMENTUM
from backtest.grid import INTERVALS

MINUTE_MS = 60_000
REQUIRED_INPUT_COLUMNS = ["symbol", "open_time_ms", "open", "high", "low", "close", "vol1m", "spread_bps",
                          "funding_bps", "open_loss_long_bps", "open_loss_short_bps", "tw_bid_px", "tw_ask_px"]


class InputError(ValueError):
    pass


def check_inputs(df: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_INPUT_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"inputs lack columns {missing} (build them with 'mraster backtest build')")


def minute_of_day(hhmm: str | None) -> int | None:
    if hhmm is None:
        return None
    h, m = str(hhmm).split(":")
    return int(h) * 60 + int(m)


def symbol_arrays(d: pd.DataFrame, extra_slippage_bps: float, entry_halt_utc: str | None = None,
                  force_exit_utc: str | None = None) -> dict[str, np.ndarray]:
    """Engine arrays of one symbol (rows sorted by time): execution at tw_mid, slippage = half the
    time-weighted spread + extra (fractions); the daily schedule as `no_entry` (bars from the entry halt,
    or the force-exit, to midnight UTC) and `force` (bars from the force-exit to midnight)."""
    f = lambda c: np.ascontiguousarray(d[c].to_numpy(dtype=np.float64))  # noqa: E731
    tw_bid, tw_ask = f("tw_bid_px"), f("tw_ask_px")
    px = (tw_bid + tw_ask) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        slip = (tw_ask - tw_bid) / (2.0 * px) + extra_slippage_bps / 1e4
    o, h, lo, c = f("open"), f("high"), f("low"), f("close")
    t = d["open_time_ms"].to_numpy(np.int64)
    mod = (t // MINUTE_MS) % 1440
    halt, fx = minute_of_day(entry_halt_utc), minute_of_day(force_exit_utc)
    force = mod >= fx if fx is not None else np.zeros(len(t), dtype=bool)
    no_entry = force | (mod >= halt) if halt is not None else force.copy()
    return {"t": t, "force": force, "no_entry": no_entry, "o": o, "h": h, "l": lo, "c": c, "px": px, "slip": slip,
            "vol": f("vol1m"), "spread": f("spread_bps"), "funding": f("funding_bps"),
            "ol_long": f("open_loss_long_bps"), "ol_short": f("open_loss_short_bps"),
            "aux_a": f("open_loss_long_bps"), "aux_b": f("open_loss_short_bps"), "aux_c": f("funding_bps")}


# ------------------------------------------------------------------------------------------- momentum
def momentum_group_key(row: pd.Series) -> tuple:
    return (int(row["T"]), int(row["V"]))


SIGNAL_KEYS = ["k", "T", "n", "V", "spread_max", "funding_max"]


def momentum_signals(a: dict, cfg: pd.DataFrame) -> np.ndarray:
    """bars x configs sides. Only the signal parameters matter, so each distinct set is computed once
    (per (T, V) group, the distinct sets broadcast) and shared by the configurations that differ only
    in their exits."""
    n = len(a["c"])
    uniq, inverse = np.unique(cfg[SIGNAL_KEYS].to_numpy(np.float64), axis=0, return_inverse=True)
    u = pd.DataFrame(uniq, columns=SIGNAL_KEYS)
    out_u = np.zeros((n, len(u)), dtype=np.int8)
    ret = mom.ret_bps(a["o"], a["c"])
    rsv = mom.rs_var(a["o"], a["h"], a["l"], a["c"])
    col = lambda x: x[:, None]  # noqa: E731
    for (T, V), idx in u.groupby(["T", "V"], sort=False).indices.items():
        vol_prev = mom.previous(mom.rs_vol_bps(rsv, int(T)))
        avg_prev = mom.previous(mom.rolling_mean(a["vol"], int(V)))
        sub = u.iloc[idx]
        row = lambda c: sub[c].to_numpy(np.float64)[None, :]  # noqa: E731
        out_u[:, idx] = mom.momentum_side(col(ret), col(vol_prev), col(a["vol"]), col(avg_prev), col(a["spread"]),
                                          col(a["funding"]), col(a["ol_long"]), col(a["ol_short"]), row("k"),
                                          row("n"), row("spread_max"), row("funding_max"))
    return out_u[:, np.ravel(inverse)]


def momentum_params(cfg: pd.DataFrame, cooldown_default: int) -> np.ndarray:
    cd = cfg["cooldown_min"] if "cooldown_min" in cfg else pd.Series(cooldown_default, index=cfg.index)
    cd = cd.fillna(cooldown_default)
    return np.column_stack([cfg["sl_bps"], cfg["tp_bps"], cfg["activation_bps"], cfg["activation_buffer_bps"],
                            cfg["callback_bps"], cfg["min_tp_gap_bps"], cd]).astype(np.float64)


# -------------------------------------------------------------------------------------------- scanner
def scanner_group_key(row: pd.Series) -> tuple:
    return (row["interval"], row["htf_interval"])


def _resample(a: dict, minutes: int) -> dict[str, np.ndarray]:
    """Complete `minutes` bars (aligned on epoch multiples) from the 1m arrays; `last` is the index of
    each bar's last minute, where its signal becomes known."""
    t = a["t"]
    step = minutes * MINUTE_MS
    key = t // step
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(t)]
    complete = (t[ends - 1] - key[starts] * step) == step - MINUTE_MS   # the bar's last minute is present
    h = np.maximum.reduceat(a["h"], starts)[complete] if len(starts) else np.empty(0)
    lo = np.minimum.reduceat(a["l"], starts)[complete] if len(starts) else np.empty(0)
    starts, ends = starts[complete], ends[complete]
    o = a["o"][starts]
    c = a["c"][ends - 1]
    open_time = key[starts] * step
    return {"o": o, "h": h, "l": lo, "c": c, "open_time": open_time, "close_time": open_time + step - 1,
            "last": ends - 1}


def scanner_indicators(a: dict, interval: str, htf_interval: str, period: int = 14) -> dict[str, np.ndarray]:
    """RSI and ATR on the primary interval, the HTF RSI of the last HTF bar closed by then (the bot's
    `align_htf`), all placed on the 1m bar where the primary bar closes."""
    p = _resample(a, INTERVALS[interval])
    hb = _resample(a, INTERVALS[htf_interval])
    r = _rsi(p["c"], period)
    at = _atr(p["h"], p["l"], p["c"], period)
    htf = align_htf(p["close_time"], hb["close_time"], _rsi(hb["c"], period))
    return {"rsi": r, "atr": at, "htf_rsi": htf, "last": p["last"]}


def scanner_signals(a: dict, cfg: pd.DataFrame, ind: dict) -> np.ndarray:
    n = len(a["c"])
    out = np.zeros((n, len(cfg)), dtype=np.int8)
    for j, (_, row) in enumerate(cfg.iterrows()):
        sp = SignalParams(rsi_buy_min=float(row["rsi_buy_min"]), rsi_sell_max=float(row["rsi_sell_max"]),
                          trend_align=bool(row["trend_align"]), align_pad=float(row["align_pad"]))
        _, _, side = signal_side(ind["rsi"], ind["htf_rsi"], sp)
        out[ind["last"], j] = side
    return out


def scanner_aux(a: dict, ind: dict) -> dict[str, np.ndarray]:
    atr_1m = np.full(len(a["c"]), np.nan)
    atr_1m[ind["last"]] = ind["atr"]
    return {"aux_a": atr_1m, "aux_b": atr_1m, "aux_c": np.zeros(len(a["c"]))}


def scanner_params(cfg: pd.DataFrame, cooldown_default: int) -> np.ndarray:
    cd = cfg["cooldown_min"] if "cooldown_min" in cfg else pd.Series(cooldown_default, index=cfg.index)
    cd = cd.fillna(cooldown_default)
    z = np.zeros(len(cfg))
    return np.column_stack([cfg["sl_atr_mult"], cfg["tp_atr_mult"], z, z, z, z, cd]).astype(np.float64)


def prepare(strategy: str, a: dict, cfg: pd.DataFrame, cooldown_default: int
            ) -> tuple[dict, np.ndarray, np.ndarray, int]:
    """(bars for the engine, signals, params, kind) for configurations that share one group key. A signal
    whose entry bar falls in the daily no-entry window is dropped."""
    if strategy == "momentum":
        bars, sig, params, kind = a, momentum_signals(a, cfg), momentum_params(cfg, cooldown_default), KIND_MOMENTUM
    else:
        row = cfg.iloc[0]
        ind = scanner_indicators(a, row["interval"], row["htf_interval"])
        bars = {**a, **scanner_aux(a, ind)}
        sig, params, kind = scanner_signals(a, cfg, ind), scanner_params(cfg, cooldown_default), KIND_ATR
    no_entry = a.get("no_entry")
    if no_entry is not None and len(no_entry) > 1 and no_entry.any():
        sig[np.flatnonzero(no_entry[1:]), :] = 0
    return bars, sig, params, kind


GROUP_KEYS = {"momentum": ["T", "V"], "scanner": ["interval", "htf_interval"]}
