"""The market-data recorder of issue 16 and seed 002 (package `recorder`) as an engine instance.

Settings keep the seed's flag names (`--symbols`, `--poll_time`, and its optional deletion of the day's
CSVs at start). The recorder trades nothing: no account role, no guard, no credentials (market streams
are public). Its CSV files go to `<ASTER_LOG_DIR>/recorders/<instance>/` (`mraster.marketdata.dirs`), its
status to `<ASTER_RUN_DIR>/<instance>.status.json`, its log to `<ASTER_LOG_DIR>/<instance>.jsonl`.

SYMBOLS is exclusive: two enabled recorder instances may not record the same symbol (the dashboard
refuses the second with the reason), so the store never sees a symbol's second twice on one day.
"""
from mraster.engines.registry import EngineKind
from mraster.settings.schema import FieldSpec

G = "recorder"
MAX_SYMBOLS = 60          # per recorder: 5 streams each, 300 streams on two combined connections

SETTINGS = (
    FieldSpec("SYMBOLS", "symbols", ("BTCUSDT",), "Symbols recorded (--symbols): five streams each, one row "
              "per symbol per second into each CSV family.", G, min=1, max=MAX_SYMBOLS),
    FieldSpec("POLL_TIME", "float", 0.0, "Run this long, then stop cleanly (--poll_time); 0 = until stopped.",
              G, unit="s", min=0.0, max=31_536_000.0),
    FieldSpec("DELETE_EXISTING", "bool", False, "At start, delete today's CSV files of this recorder before "
              "writing (--delete-existing; other days are kept).", G),
)

KIND = EngineKind(
    name="recorder",
    title="Market-data recorder",
    module="recorder",
    description="Keeps a live cache of five streams per symbol and writes one snapshot per symbol per second "
                "into seed 002's daily CSV families, with gaps and a status file; the store loads them.",
    settings=SETTINGS,
    account_roles=(),
    page="data",
    guard_default="leave",
    trades=False,
    exclusive=("SYMBOLS",),
    tags=("market-data",),
)
