"""Stylized facts of 1-minute bars: the yardstick the synthetic market is calibrated against.

`stylized_facts()` measures a series (real or synthetic) the same way; the parameters in
synthetic_model.py were chosen so the synthetic market's facts match those of real Binance USD-M
data, and tests/paper/test_synthetic_calibration.py keeps them matched against the real data
shipped in mraster/data/replay/. Re-run the comparison with `python3 -m paper.feeds.calibration`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def _autocorr(x: np.ndarray, lag: int) -> float:
    a, b = x[:-lag], x[lag:]
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def stylized_facts(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                   volume: np.ndarray) -> dict[str, float]:
    """Figures that characterise a 1m series independently of its price level."""
    close = np.asarray(close, float)
    r = np.diff(np.log(close))
    sd = float(r.std())
    a = np.abs(r)
    rng = np.asarray(high, float) - np.asarray(low, float)
    body = np.abs(close - np.asarray(open_, float))
    ok = rng > 0
    days = len(close) // 1440
    daily = np.diff(np.log(close[1439::1440])) if days > 2 else np.array([0.0])
    m4 = float(np.mean((r - r.mean()) ** 4))
    return {
        "sd_1m": sd,
        "excess_kurtosis": m4 / sd ** 4 - 3.0 if sd > 0 else 0.0,
        "abs_acf_1": _autocorr(a, 1),
        "abs_acf_60": _autocorr(a, 60),
        "abs_acf_600": _autocorr(a, 600),
        "range_over_sd": float(np.mean(np.log(np.asarray(high, float)[ok] / np.asarray(low, float)[ok]))) / sd
        if sd > 0 else 0.0,
        "wickiness": float(np.mean((rng[ok] - body[ok]) / rng[ok])) if ok.any() else 0.0,
        "vol_abs_ret_corr": float(np.corrcoef(a, np.asarray(volume, float)[1:])[0, 1]),
        "volume_cv": float(np.std(volume) / np.mean(volume)),
        "volume_acf_1": _autocorr(np.asarray(volume, float), 1),
        "daily_sd": float(daily.std()),
    }


# Median facts of the seven Binance USD-M perpetual 1m files of Feb 2026 (ALGO, AVAX, DOT, FIL, LINK,
# LTC, NEAR), measured with stylized_facts(); the synthetic market is tuned to these.
REAL_FACTS = {
    "excess_kurtosis": 23.0, "abs_acf_1": 0.27, "abs_acf_60": 0.18, "abs_acf_600": 0.07,
    "range_over_sd": 1.22, "wickiness": 0.50, "vol_abs_ret_corr": 0.53, "volume_cv": 1.8,
    "volume_acf_1": 0.65,
}


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    import pandas as pd
    df = pd.read_csv(path)
    return {c: df[c].to_numpy() for c in ("open", "high", "low", "close", "volume")}


def main(argv: list[str]) -> int:
    """Print the facts of real files given on the command line next to a synthetic month."""
    from paper.feeds.synthetic import SyntheticMarket
    rows = []
    for name in argv:
        d = _read_csv(Path(name))
        rows.append((Path(name).name[:40], stylized_facts(d["open"], d["high"], d["low"], d["close"], d["volume"])))
    market = SyntheticMarket(("LINKUSDT", "LTCUSDT", "DOTUSDT"), seed=1)
    for sym in market.symbols:
        start = 20_480 * 86_400_000
        bars = market.history_arrays(sym, start, start + 28 * 86_400_000)
        rows.append((f"synthetic {sym}", stylized_facts(bars["open"], bars["high"], bars["low"], bars["close"],
                                                          bars["volume"])))
    keys = list(rows[0][1]) if rows else []
    print("series".ljust(42) + "".join(k[:14].rjust(15) for k in keys))
    for name, facts in rows:
        print(name.ljust(42) + "".join(f"{facts[k]:15.4g}" for k in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
