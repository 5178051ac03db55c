"""The engine's run configuration, from the instance's resolved settings (kind `momentum`) and the flags."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mraster.signals.momentum_params import SymbolParams, defaults_from

from momentum.orders import minute_of_day


@dataclass(frozen=True)
class EngineConfig:
    instance: str
    symbols: tuple[str, ...]
    account: str = "main"                  # the account name its claims are filed under (engines.json)
    enable_trading: bool = False
    poll_time: float = 0.0                 # seconds; 0 = until stopped
    update_logs: bool = False
    order_notional: float = 5.0
    leverage: int = 10
    margin_type: str = "ISOLATED"
    safety_multiple: float = 1.2
    entry_halt_utc: str = "23:00"
    force_exit_utc: str = "23:50"
    cooldown_min: int = 5
    params_file: Path = Path("run/momentum_params.json")
    taker_fee_bps: float = 0.0             # 0 = the venue's commission rate
    defaults: SymbolParams | None = None
    tick_s: float = 1.0
    status_path: Path = Path("run/momentum.status.json")
    state_path: Path = Path("run/momentum.state.json")

    @property
    def halt_min(self) -> int:
        return minute_of_day(self.entry_halt_utc)

    @property
    def force_min(self) -> int:
        return minute_of_day(self.force_exit_utc)

    def check(self) -> None:
        """ValueError naming the setting that is wrong."""
        if not self.symbols:
            raise ValueError("SYMBOLS: at least one symbol")
        self.halt_min, self.force_min            # noqa: B018 - both parse or raise
        if self.order_notional <= 0 and self.enable_trading:
            raise ValueError("ORDER_NOTIONAL must be positive to trade")
        if self.defaults is None:
            raise ValueError("default parameters missing")


def config_from(values: dict[str, Any], *, instance: str, status_path: Path, state_path: Path,
                base_dir: Path | None = None, run_dir: Path | None = None, account: str = "main",
                **flags: Any) -> EngineConfig:
    """`values`: the kind's settings (seed names); `flags`: command-line values that were given (not None);
    `run_dir`: ASTER_RUN_DIR (the default parameter file's folder, defaults to the status file's folder)."""
    run_dir = run_dir if run_dir is not None else status_path.parent
    v = dict(values)
    for key, name in (("symbols", "SYMBOLS"), ("poll_time", "POLL_TIME"), ("enable_trading", "ENABLE_TRADING"),
                      ("update_logs", "UPDATE_LOGS"), ("order_notional", "ORDER_NOTIONAL")):
        if flags.get(key) is not None:
            v[name] = flags[key]
    if str(v.get("PARAMS_FILE") or "").strip():
        params_file = Path(str(v["PARAMS_FILE"]).strip())
        if not params_file.is_absolute() and base_dir is not None:
            params_file = base_dir / params_file
    else:                                   # where the dashboard's Backtest page Apply writes
        params_file = (run_dir if run_dir is not None else Path("run")) / "momentum_params.json"
    cfg = EngineConfig(instance=instance, account=account, symbols=tuple(v["SYMBOLS"]), enable_trading=bool(v["ENABLE_TRADING"]),
                       poll_time=float(v["POLL_TIME"]), update_logs=bool(v["UPDATE_LOGS"]),
                       order_notional=float(v["ORDER_NOTIONAL"]), leverage=int(v["LEVERAGE"]),
                       margin_type=str(v["MARGIN_TYPE"]), safety_multiple=float(v["SAFETY_MULTIPLE"]),
                       entry_halt_utc=str(v["ASTER_ENTRY_HALT_UTC"]), force_exit_utc=str(v["ASTER_FORCE_EXIT_UTC"]),
                       cooldown_min=int(v["COOLDOWN_MIN"]), params_file=params_file,
                       taker_fee_bps=float(v["TAKER_FEE_BPS"]), defaults=defaults_from(v),
                       tick_s=float(v.get("LOOP_S", 1.0)), status_path=status_path, state_path=state_path)
    cfg.check()
    return cfg
