"""`mraster backtest job --job-dir DIR`: one backtest or sweep as a self-contained job directory.

The dashboard's Backtest page runs this as a child process (it never imports the backtester). The
job reads `job.json`, and writes, each atomically, so a reader never sees half a file and a restarted
dashboard finds everything:
    progress.json   state (building, checking, sweeping, details, done, failed, cancelled), chunks
                    done/total, ETA, message; rewritten as the job goes
    ranked.csv      the ranked table (as `sweep --out-ranked-csv`), also after a cancel (finished chunks)
    mapping.csv     config_id -> symbol and parameters (as `--out-config-map-csv`)
    details/<config_id>.json   equity, drawdown, close and trades of the top configurations, for charts
SIGINT or SIGTERM stops after the running chunk and keeps the finished ones (state `cancelled`).
"""
from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mraster.storage.atomic import write_json_atomic, write_text_atomic

MAX_POINTS = 2000            # points per chart series in a details file (downsampled evenly)
MAX_TRADES = 2000            # trades kept per details file (the first ones)


class Progress:
    def __init__(self, job_dir: Path):
        self.path = job_dir / "progress.json"
        self.started = time.time()
        self.data: dict[str, Any] = {"state": "starting", "done": 0, "total": 0, "message": "",
                                     "started_at": self.started, "eta_s": None}

    def set(self, **kw: Any) -> None:
        self.data.update(kw)
        now = time.time()
        self.data["updated_at"] = now
        self.data["elapsed_s"] = round(now - self.started, 2)
        done, total = self.data.get("done") or 0, self.data.get("total") or 0
        if self.data["state"] == "sweeping" and 0 < done < total:
            rate = done / max(1e-6, now - self.data.get("sweep_started", now))
            self.data["eta_s"] = round((total - done) / rate, 1) if rate > 0 else None
        elif self.data["state"] != "sweeping":
            self.data["eta_s"] = None
        write_json_atomic(self.path, self.data)


def _csv(df: pd.DataFrame, path: Path) -> None:
    write_text_atomic(path, df.to_csv(index=False, float_format="%.10g"))


def _finite(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def _thin(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).astype(int)) if n else np.zeros(0, int)


def details(strategy: str, arrays: dict, configs: pd.DataFrame, settings: dict, row: pd.Series) -> dict:
    """Equity, drawdown and trades of one configuration over the whole history (for the page's charts)."""
    from backtest.plots import replay
    cid, sym = int(row["config_id"]), str(row["symbol"])
    a = arrays[sym]
    trades, eq = replay(strategy, a, configs[configs["config_id"] == cid], settings)
    eq = pd.Series(eq).ffill().fillna(0.0).to_numpy()
    dd = eq - np.maximum.accumulate(eq) if len(eq) else eq
    idx = _thin(len(eq))
    t = a["t"]
    out_trades = [{"entry_ms": int(t[int(r.entry_i)]), "exit_ms": int(t[int(r.exit_i)]),
                   "side": "long" if r.side > 0 else "short", "qty": _finite(r.qty),
                   "entry_price": _finite(r.entry_price), "exit_price": _finite(r.exit_price),
                   "fees": _finite(r.entry_fee + r.exit_fee), "pnl": _finite(r.pnl), "reason": r.reason}
                  for r in trades.head(MAX_TRADES).itertuples()]
    return {"config_id": cid, "symbol": sym, "rank": int(row["rank"]), "n_trades": len(trades),
            "split_time_utc": row.get("split_time_utc") if isinstance(row.get("split_time_utc"), str) else None,
            "t": [int(x) for x in t[idx]], "close": [_finite(x) for x in a["c"][idx]],
            "equity": [_finite(x) for x in eq[idx]], "drawdown": [_finite(x) for x in dd[idx]],
            "trades": out_trades}


def load_inputs(job: dict) -> pd.DataFrame:
    from backtest.features import build_features, load_klines, load_store
    src = job["source"]
    symbols = job["symbols"]
    if src["type"] == "klines":
        data = load_klines(src["name"], symbols, job["start_date"], job["end_date"], float(src.get("spread_bps", 1.0)))
    else:
        data = load_store(src["path"], symbols, job["start_date"], job["end_date"])
    return build_features(data, [10, 30, 60])


def check_job(job_dir: Path) -> int:
    """Validate job.json's grid without running it: prints one JSON line {ok, error | strategy, n_configs,
    per_symbol} (the dashboard's grid editor and its start request use this; exit 0 ok, 1 not)."""
    from backtest.grid import GridError, expand, settings_of
    try:
        job = json.loads((Path(job_dir) / "job.json").read_text())
        cfg = job["grid"]
        if not isinstance(cfg, dict) or not isinstance(cfg.get("symbols"), dict) or not cfg["symbols"]:
            raise GridError('the grid needs a non-empty "symbols" map')
        settings_of(cfg)
        strategy, configs = expand(cfg, list(job["symbols"]))
    except (GridError, ValueError, KeyError, TypeError, OSError) as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return 1
    counts = configs["symbol"].value_counts()
    print(json.dumps({"ok": True, "strategy": strategy, "n_configs": len(configs),
                      "per_symbol": {str(k): int(v) for k, v in counts.items()}}))
    return 0


def run_job(job_dir: Path) -> int:
    from backtest.grid import GridError, expand, settings_of
    from backtest.lookahead import LookaheadError, check_sweep
    from backtest.sweep import arrays_for, mapping_table, ranked_table, run_sweep, SweepResult

    job_dir = Path(job_dir)
    progress = Progress(job_dir)
    stop = {"requested": False}

    def on_signal(signum: int, frame: Any) -> None:
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True
        progress.set(message="cancel requested: finishing the running chunk")
        raise KeyboardInterrupt          # caught below while building; inside the sweep it ends the loop

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        job = json.loads((job_dir / "job.json").read_text())
        progress.set(state="building", message="building minute features")
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        inputs = load_inputs(job)
        cfg = job["grid"]
        settings = settings_of(cfg)
        strategy, configs = expand(cfg, sorted(inputs["symbol"].unique()))
        _csv(mapping_table(SweepResult(strategy, configs, configs[["config_id"]], settings, 0, 0)),
             job_dir / "mapping.csv")
        progress.set(state="checking", message=f"look-ahead check ({len(configs)} configurations)")
        arrays = arrays_for(inputs, sorted(configs["symbol"].unique()), settings)
        check_sweep(strategy, arrays, configs, int(settings["cooldown_min"]))
        progress.set(state="sweeping", total=0, done=0, sweep_started=time.time(), n_configs=len(configs),
                     n_bars=int(sum(len(a["c"]) for a in arrays.values())),
                     message=f"sweeping {len(configs)} configurations ({strategy})")
        # from here the sweep's own handler lets the running chunk finish on SIGINT; SIGTERM does the same
        signal.signal(signal.SIGTERM, lambda s, f: signal.raise_signal(signal.SIGINT))
        signal.signal(signal.SIGINT, signal.default_int_handler)
        res = run_sweep(inputs, strategy, configs, settings,
                        on_progress=lambda d, t: progress.set(done=d, total=t))
        ranked = ranked_table(res)
        _csv(ranked, job_dir / "ranked.csv")
        if not res.complete:
            progress.set(state="cancelled", done=res.n_done, total=res.n_tasks,
                         message=f"cancelled: {res.n_done} of {res.n_tasks} chunks finished; their "
                                 f"{len(ranked)} rows are kept")
            return 130
        progress.set(state="details", done=res.n_done, total=res.n_tasks, message="equity and trades of the top "
                     "configurations")
        ddir = job_dir / "details"
        ddir.mkdir(exist_ok=True)
        for _, row in ranked.head(int(job.get("top", 10))).iterrows():
            write_json_atomic(ddir / f"{int(row['config_id'])}.json",
                              details(strategy, arrays, configs, settings, row), indent=None)
        progress.set(state="done", message=f"{len(configs)} configurations ranked")
        return 0
    except KeyboardInterrupt:
        kept = (job_dir / "ranked.csv").exists()
        progress.set(state="cancelled", message="cancelled; the ranked table is kept" if kept else
                     "cancelled before the sweep started; nothing ranked")
        return 130
    except (GridError, LookaheadError, ValueError, OSError, KeyError) as exc:
        progress.set(state="failed", message=f"{type(exc).__name__}: {exc}")
        return 1
    except Exception as exc:                        # the page must learn why, whatever it was
        progress.set(state="failed", message=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
