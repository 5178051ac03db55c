"""The momentum-volatility engine of seeds 000/002 (package `momentum`): one account, one-second loop on the
live market cache, taker IOC entries, exits in basis points with a trailing stop past a break-even floor.

Settings keep the seed's names: its command-line flags (SYMBOLS, POLL_TIME, ENABLE_TRADING, UPDATE_LOGS,
ORDER_NOTIONAL), its account setup (LEVERAGE 10, MARGIN_TYPE ISOLATED), its kill-switch threshold (1.2),
its daily schedule (ASTER_ENTRY_HALT_UTC 23:00, ASTER_FORCE_EXIT_UTC 23:50), and the keys of seed 002's
config_grid.json as the defaults of every symbol the parameter file (PARAMS_FILE) does not name.
"""
from mraster.engines.registry import EngineKind
from mraster.settings.schema import FieldSpec

G = "momentum"


def _f(name: str, kind: str, default: object, desc: str, unit: str = "", lo: float | None = None,
       hi: float | None = None, choices: tuple[str, ...] = ()) -> FieldSpec:
    return FieldSpec(name, kind, default, desc, G, unit=unit, min=lo, max=hi, choices=choices)  # type: ignore[arg-type]


SETTINGS = (
    _f("SYMBOLS", "symbols", ("ETHUSDT",), "symbols the engine watches and trades (--symbols)"),
    _f("POLL_TIME", "float", 0.0, "run this long, then stop cleanly (--poll-time); 0 = until stopped", "s", 0),
    _f("ENABLE_TRADING", "bool", False, "send orders (--enable-trading); false: signals are logged, nothing is sent"),
    _f("UPDATE_LOGS", "bool", False, "record the five market CSV families through the recorder (--update-logs)"),
    _f("ORDER_NOTIONAL", "float", 5.0, "entry size in USD; the quantity is rounded up to the step so the "
       "notional is at least this (--order-notional)", "USDT", 0.0),
    _f("LEVERAGE", "int", 10, "leverage set on every symbol at start (ensure_risk_setup)", "x", 1, 125),
    _f("MARGIN_TYPE", "choice", "ISOLATED", "margin type set on every symbol at start", choices=("ISOLATED", "CROSSED")),
    _f("SAFETY_MULTIPLE", "float", 1.2, "margin kill-switch: totalMarginBalance / totalMaintMargin at or below "
       "this closes every position of the engine and latches the account's kill-switch", "x", 1.0, 100.0),
    _f("ASTER_ENTRY_HALT_UTC", "str", "23:00", "no new entries from this UTC time to midnight (HH:MM)"),
    _f("ASTER_FORCE_EXIT_UTC", "str", "23:50", "close open positions from this UTC time to midnight (HH:MM)"),
    _f("COOLDOWN_MIN", "int", 5, "minutes after an exit before a symbol's signals count again", "min", 0, 1440),
    _f("PARAMS_FILE", "str", "", "per-symbol parameters (config_grid.json keys, one value each); empty = "
       "<ASTER_RUN_DIR>/momentum_params.json, where the dashboard's Backtest page Apply writes (docs/momentum.md)"),
    _f("LOOP_S", "float", 1.0, "seconds between ticks (the seed's one second)", "s", 0.05, 60),
    _f("TAKER_FEE_BPS", "float", 0.0, "taker fee for the break-even floor; 0 = the venue's commission rate", "bps", 0, 100),
    # seed 002's config_grid.json keys: the values of every symbol the parameter file does not name
    _f("k", "float", 2.0, "signal: |ret_bps| > k * RS_vol(T)", "", 0),
    _f("T", "int", 30, "RS volatility window", "min", 1, 1440),
    _f("n", "float", 2.0, "volume regime: bar volume > n * mean volume of V bars", "", 0),
    _f("V", "int", 30, "volume window", "min", 1, 1440),
    _f("tp_bps", "float", 60.0, "take-profit distance from the entry (floored)", "bps", 0),
    _f("sl_bps", "float", 40.0, "stop-loss distance from the entry (MARK_PRICE trigger)", "bps", 0),
    _f("activation_bps", "float", 15.0, "trailing activation distance (floored at break-even + buffer)", "bps", 0),
    _f("activation_buffer_bps", "float", 2.0, "buffer above the break-even floor", "bps", 0),
    _f("callback_bps", "float", 10.0, "trailing callback (10 bps = callbackRate 0.1 %)", "bps", 10, 500),
    _f("min_tp_gap_bps", "float", 5.0, "take-profit at least this beyond the activation", "bps", 0),
    _f("spread_max", "float", 5.0, "blocker: spread_bps at most this", "bps", 0),
    _f("funding_max", "float", 5.0, "blocker: |funding_bps| at most this", "bps", 0),
)

KIND = EngineKind(
    name="momentum",
    title="Momentum-volatility",
    module="momentum",
    description="One-second loop on streamed 1m bars: momentum against Rogers-Satchell volatility with a volume "
                "regime and spread/funding/opening-loss blockers; taker IOC entries, TP/SL/trailing exits in bps.",
    settings=SETTINGS,
    account_roles=("account",),
    page="engine",
    guard_default="protect",
)
