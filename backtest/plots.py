"""`--plot-top N`: equity, drawdown and trades on price for the best configurations, as PNG
(matplotlib) and interactive HTML (plotly, in the `backtest` extra; skipped with a note without it)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backtest.engine import REASONS, run_chunk
from backtest.grid import STOP_EXIT_MODES
from backtest.prep import prepare


def replay(strategy: str, arrays: dict, cfg_row: pd.DataFrame, settings: dict):
    """(trades DataFrame, equity array) of one configuration over the whole history."""
    bars, sig, params, kind = prepare(strategy, arrays, cfg_row.reset_index(drop=True), int(settings["cooldown_min"]))
    _, trades, equity = run_chunk(bars, sig, params, kind, float(settings["taker_fee_bps"]),
                                  float(settings["notional_usd"]), STOP_EXIT_MODES[settings["stop_exit_price"]],
                                  record=True)
    t = pd.DataFrame(trades[0], columns=["entry_i", "exit_i", "side", "qty", "entry_price", "exit_price",
                                         "entry_fee", "exit_fee", "pnl", "reason"])
    t["reason"] = [REASONS[int(r)] for r in t["reason"]]
    return t, equity[0]


def plot_top(ranked: pd.DataFrame, strategy: str, arrays: dict[str, dict], configs: pd.DataFrame,
             settings: dict, top: int, out_dir: str | Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ModuleNotFoundError:
        go = None
        print("plots: plotly not installed (pip install 'mraster[backtest]'); writing PNG only")
    for _, r in ranked.head(top).iterrows():
        cid, sym = int(r["config_id"]), r["symbol"]
        a = arrays[sym]
        trades, eq = replay(strategy, a, configs[configs["config_id"] == cid], settings)
        eq = pd.Series(eq).ffill().fillna(0.0).to_numpy()
        dd = eq - np.maximum.accumulate(eq)
        time = pd.to_datetime(a["t"], unit="ms", utc=True)
        title = f"#{int(r['rank'])} config {cid} {sym} {strategy}: in-sample PnL {r['is_total_pnl']:.2f}"
        if "oos_total_pnl" in r:
            title += f", held-out {r['oos_total_pnl']:.2f}"
        fig, ax = plt.subplots(3, 1, figsize=(12, 8), sharex=True, height_ratios=[2, 1, 1])
        ax[0].plot(time, a["c"], lw=0.6, color="0.3")
        for side, mk, col in ((1, "^", "tab:green"), (-1, "v", "tab:red")):
            s = trades[trades["side"] == side]
            ax[0].scatter(time[s["entry_i"].astype(int)], s["entry_price"], marker=mk, color=col, s=14)
        ax[0].scatter(time[trades["exit_i"].astype(int)], trades["exit_price"], marker="x", color="k", s=10)
        ax[0].set_ylabel("price")
        ax[1].plot(time, eq, color="tab:blue")
        ax[1].set_ylabel("equity")
        ax[2].fill_between(time, dd, 0, color="tab:red", alpha=0.4)
        ax[2].set_ylabel("drawdown")
        split = pd.Timestamp(r["split_time_utc"], tz="UTC") if isinstance(r.get("split_time_utc"), str) else None
        if split is not None:
            for x in ax:
                x.axvline(split, color="tab:orange", ls="--", lw=1)
            ax[0].text(split, ax[0].get_ylim()[1], " held-out", color="tab:orange", va="top", fontsize=8)
        fig.suptitle(title, fontsize=10)
        png = out / f"top{int(r['rank'])}_config{cid}_{sym}.png"
        fig.savefig(png, dpi=110)
        plt.close(fig)
        written.append(png)
        if go is not None:
            f = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.5, 0.25, 0.25])
            f.add_trace(go.Scattergl(x=time, y=a["c"], name="close", line={"width": 1}), row=1, col=1)
            for side, sym_, col in ((1, "triangle-up", "green"), (-1, "triangle-down", "red")):
                s = trades[trades["side"] == side]
                f.add_trace(go.Scattergl(x=time[s["entry_i"].astype(int)], y=s["entry_price"], mode="markers",
                                         marker={"symbol": sym_, "color": col}, name="long" if side > 0 else "short",
                                         text=[f"pnl {p:.2f} exit {x}" for p, x in zip(s["pnl"], s["reason"])]),
                            row=1, col=1)
            f.add_trace(go.Scattergl(x=time[trades["exit_i"].astype(int)], y=trades["exit_price"], mode="markers",
                                     marker={"symbol": "x", "color": "black"}, name="exit"), row=1, col=1)
            f.add_trace(go.Scattergl(x=time, y=eq, name="equity"), row=2, col=1)
            f.add_trace(go.Scattergl(x=time, y=dd, name="drawdown", fill="tozeroy"), row=3, col=1)
            if split is not None:
                f.add_vline(x=split.timestamp() * 1000, line_dash="dash", line_color="orange")
            f.update_layout(title=title, height=800)
            html = png.with_suffix(".html")
            f.write_html(html, include_plotlyjs=True)
            written.append(html)
    return written
