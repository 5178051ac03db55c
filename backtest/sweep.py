"""The parameter sweep: chunks of configurations per symbol through the compiled engine, on this
process, a local Dask cluster or a remote scheduler, with walk-forward metrics and a ranked table.

A task is (symbol, configurations sharing a signal-window group); it returns one metrics row per
configuration for the in-sample range and, when the walk-forward split leaves one, the held-out
range. Tasks are pure functions of their inputs, so every executor gives identical results.
"""
from __future__ import annotations

import math
import signal
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from backtest.engine import M_COLS, run_chunk
from backtest.grid import STOP_EXIT_MODES
from backtest.prep import GROUP_KEYS, check_inputs, prepare, symbol_arrays

MINUTES_PER_YEAR = 365 * 24 * 60
METRIC_NAMES = ["total_pnl", "trades", "win_rate", "profit_factor", "expectancy", "max_drawdown", "sharpe",
                "sortino", "avg_hold_min", "exposure", "fees", "n_long", "n_short", "exits_sl", "exits_trail",
                "exits_tp", "exits_force", "open_at_end"]


@dataclass
class Task:
    symbol: str
    configs: pd.DataFrame
    split: int                   # first held-out bar (== n bars when nothing is held out)


@dataclass
class SweepResult:
    strategy: str
    configs: pd.DataFrame
    metrics: pd.DataFrame        # config_id + is_*/oos_* metric columns, finished tasks only
    settings: dict
    n_tasks: int
    n_done: int
    split_time_ms: dict = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.n_done == self.n_tasks


def finalize(acc: np.ndarray) -> pd.DataFrame:
    """Engine accumulators -> trader metrics (PnL in the quote currency; Sharpe/Sortino annualised
    from per-minute equity changes)."""
    a = pd.DataFrame(acc, columns=M_COLS)
    trades = a["trades"]
    closed = a["gross_profit"] - a["gross_loss"]
    nb = a["n_bars"].where(a["n_bars"] > 0)
    mean = a["sum_d"] / nb
    std = np.sqrt(np.maximum(a["sum_d2"] / nb - mean ** 2, 0.0))
    down = np.sqrt(a["sum_neg2"] / nb)
    ann = math.sqrt(MINUTES_PER_YEAR)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame({
            "total_pnl": a["total_pnl"], "trades": trades.astype(int),
            "win_rate": a["wins"] / trades.where(trades > 0),
            "profit_factor": np.where(a["gross_loss"] > 0, a["gross_profit"] / a["gross_loss"],
                                      np.where(a["gross_profit"] > 0, np.inf, np.nan)),
            "expectancy": closed / trades.where(trades > 0),
            "max_drawdown": a["max_dd"],
            "sharpe": np.where(std > 0, mean / std * ann, np.nan),
            "sortino": np.where(down > 0, mean / down * ann, np.nan),
            "avg_hold_min": a["hold_bars"] / trades.where(trades > 0),
            "exposure": a["bars_in_pos"] / nb, "fees": a["fees"],
            "n_long": a["n_long"].astype(int), "n_short": a["n_short"].astype(int),
            "exits_sl": a["n_sl"].astype(int), "exits_trail": a["n_trail"].astype(int),
            "exits_tp": a["n_tp"].astype(int), "exits_force": a["n_force"].astype(int),
            "open_at_end": a["open_at_end"].astype(int)})
    return out


def run_task(task: Task, arrays: dict, strategy: str, settings: dict) -> pd.DataFrame:
    cfg = task.configs.reset_index(drop=True)
    bars, sig, params, kind = prepare(strategy, arrays, cfg, int(settings["cooldown_min"]))
    n = len(arrays["c"])
    mode = STOP_EXIT_MODES[settings["stop_exit_price"]]
    common = dict(kind=kind, fee_bps=float(settings["taker_fee_bps"]), notional=float(settings["notional_usd"]),
                  exit_mode=mode)
    m_is, _, _ = run_chunk(bars, sig, params, start=0, end=task.split, **common)
    out = finalize(m_is).add_prefix("is_")
    if task.split < n:
        m_oos, _, _ = run_chunk(bars, sig, params, start=task.split, end=n, **common)
        out = pd.concat([out, finalize(m_oos).add_prefix("oos_")], axis=1)
    out.insert(0, "config_id", cfg["config_id"].to_numpy())
    return out


def make_tasks(configs: pd.DataFrame, strategy: str, sizes: dict[str, int], settings: dict) -> list[Task]:
    chunk = max(1, int(settings["chunk_size"]))
    tasks = []
    for sym, cs in configs.groupby("symbol", sort=True):
        n = sizes[sym]
        split = n if float(settings["train_frac"]) >= 1 else int(round(n * float(settings["train_frac"])))
        for _, g in cs.groupby(GROUP_KEYS[strategy], sort=True):
            for k in range(0, len(g), chunk):
                tasks.append(Task(sym, g.iloc[k:k + chunk], split))
    return tasks


def split_inputs(inputs: pd.DataFrame, symbols: Iterable[str], extra_slippage_bps: float,
                 entry_halt_utc: str | None = None, force_exit_utc: str | None = None) -> dict[str, dict]:
    check_inputs(inputs)
    out = {}
    for sym in symbols:
        d = inputs[inputs["symbol"] == sym].sort_values("open_time_ms", kind="stable")
        out[sym] = symbol_arrays(d, extra_slippage_bps, entry_halt_utc, force_exit_utc)
    return out


def arrays_for(inputs: pd.DataFrame, symbols: Iterable[str], settings: dict) -> dict[str, dict]:
    return split_inputs(inputs, symbols, float(settings["extra_slippage_bps"]), settings.get("entry_halt_utc"),
                        settings.get("force_exit_utc"))


def _local_map(tasks, arrays, strategy, settings):
    for t in tasks:
        yield t, run_task(t, arrays[t.symbol], strategy, settings)


def _dask_map(client, tasks, arrays, strategy, settings):
    from distributed import as_completed
    # a list, not the dict itself: scattering a dict would key each array by its field name ("c", "o"...),
    # so every symbol would overwrite the previous one's data on the workers
    scattered = {s: client.scatter([a], broadcast=True)[0] for s, a in arrays.items()}
    futs = {client.submit(run_task, t, scattered[t.symbol], strategy, settings, pure=False): t for t in tasks}
    try:
        for fut in as_completed(futs):
            yield futs[fut], fut.result()
    finally:
        for f in futs:
            f.cancel()


def run_sweep(inputs: pd.DataFrame, strategy: str, configs: pd.DataFrame, settings: dict, *,
              scheduler: str | None = None, workers: int = 0, progress: bool = False,
              on_progress: Callable[[int, int], Any] | None = None) -> SweepResult:
    """Run every configuration. `scheduler`: a Dask scheduler address; else `workers` > 0 starts a local
    Dask cluster on 127.0.0.1; else this process. Ctrl+C returns the finished tasks (complete=False)."""
    symbols = sorted(configs["symbol"].unique())
    arrays = arrays_for(inputs, symbols, settings)
    tasks = make_tasks(configs, strategy, {s: len(a["c"]) for s, a in arrays.items()}, settings)
    split_ms = {s: int(arrays[s]["t"][t.split]) for t in tasks for s in [t.symbol] if t.split < len(arrays[s]["t"])}
    parts: list[pd.DataFrame] = []
    cluster = client = None
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(configs), unit="cfg", desc=f"sweep {strategy}", smoothing=0.1)
    # Ctrl+C lets the running chunk finish, then stops (an interrupt inside the compiled engine's dispatch
    # would surface as a SystemError); a second Ctrl+C interrupts at once
    stop = {"requested": False}

    def on_sigint(signum, frame):
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True

    previous = None
    it = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        if scheduler or workers > 0:
            from distributed import Client, LocalCluster
            if scheduler:
                client = Client(scheduler)
            else:
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, host="127.0.0.1",
                                       dashboard_address=None, processes=True)
                client = Client(cluster)
            it = _dask_map(client, tasks, arrays, strategy, settings)
        else:
            it = _local_map(tasks, arrays, strategy, settings)
        for t, res in it:
            parts.append(res)
            if bar is not None:
                bar.update(len(t.configs))
            if on_progress is not None:
                on_progress(len(parts), len(tasks))
            if stop["requested"]:
                break
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if it is not None:
            it.close()                       # cancels the Dask futures still pending
        if bar is not None:
            bar.close()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    metrics = (pd.concat(parts, ignore_index=True).sort_values("config_id").reset_index(drop=True)
               if parts else pd.DataFrame(columns=["config_id"]))
    return SweepResult(strategy, configs, metrics, settings, len(tasks), len(parts), split_ms)


def ranked_table(res: SweepResult) -> pd.DataFrame:
    """Ranked by in-sample total PnL (rank 1 = best); the held-out rank and metrics beside; the number of
    configurations tried (overall and for the symbol) on every row."""
    cfg = res.configs
    m = res.metrics
    df = cfg.merge(m, on="config_id", how="inner")
    if "is_total_pnl" not in df:                     # interrupted before any chunk finished
        return df.assign(n_configs_tried=len(cfg), complete=res.complete)
    df["rank"] = df["is_total_pnl"].rank(ascending=False, method="first").astype(int)
    df["symbol_rank"] = df.groupby("symbol")["is_total_pnl"].rank(ascending=False, method="first").astype(int)
    if "oos_total_pnl" in df:
        df["oos_rank"] = df["oos_total_pnl"].rank(ascending=False, method="first").astype(int)
        df["oos_symbol_rank"] = df.groupby("symbol")["oos_total_pnl"].rank(ascending=False,
                                                                           method="first").astype(int)
    df["n_configs_tried"] = len(cfg)
    df["n_configs_symbol"] = df["symbol"].map(cfg["symbol"].value_counts())
    df["strategy"] = res.strategy
    df["stop_fill"] = res.settings["stop_exit_price"]
    df["split_time_utc"] = df["symbol"].map(
        {s: pd.Timestamp(t, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M") for s, t in res.split_time_ms.items()})
    df["complete"] = res.complete
    lead = ["rank", "symbol_rank"] + (["oos_rank", "oos_symbol_rank"] if "oos_rank" in df else []) + \
        ["config_id", "symbol"]
    params = [c for c in cfg.columns if c not in ("config_id", "symbol")]
    is_cols = [f"is_{k}" for k in METRIC_NAMES]
    oos_cols = [f"oos_{k}" for k in METRIC_NAMES if f"oos_{k}" in df]
    tail = ["n_configs_tried", "n_configs_symbol", "strategy", "stop_fill", "split_time_utc", "complete"]
    return df[lead + params + is_cols + oos_cols + tail].sort_values("rank").reset_index(drop=True)


def mapping_table(res: SweepResult) -> pd.DataFrame:
    df = res.configs.copy()
    df["strategy"] = res.strategy
    df["stop_fill"] = res.settings["stop_exit_price"]
    df["both_stops_in_bar"] = "stop_first"
    df["taker_fee_bps"] = res.settings["taker_fee_bps"]
    df["extra_slippage_bps"] = res.settings["extra_slippage_bps"]
    df["notional_usd"] = res.settings["notional_usd"]
    df["entry_halt_utc"] = res.settings.get("entry_halt_utc")
    df["force_exit_utc"] = res.settings.get("force_exit_utc")
    return df
