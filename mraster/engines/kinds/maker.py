"""Seed 003's cycle maker (package `maker`): a coordinator on one account, two executors on two more.

Settings keep the seed's names and defaults (`MAX_POSITION_B_USD`, `maker_step_btc`, ...); the kernel
scopes them per instance (`MRASTER_<INSTANCE>__maker_step_btc`). Roles: `coordinator` reads the market
(seed: server A, account A), `executor_b` and `executor_c` trade (servers B and C). The guard leaves
their positions alone: a stop on one leg of a hedged pair would break the hedge.
"""
from mraster.engines.registry import EngineKind
from mraster.settings.schema import FieldSpec

G = "maker"

SETTINGS = (
    FieldSpec("MAX_POSITION_B_USD", "float", 5000.0, "Largest position of executor B (notional, either side).",
              G, unit="USD", min=0.0, max=1e7, live=True),
    FieldSpec("MAX_POSITION_C_USD", "float", 5000.0, "Largest position of executor C (notional, either side).",
              G, unit="USD", min=0.0, max=1e7, live=True),
    FieldSpec("maker_step_btc", "float", 0.002, "Quantity of one maker order.", G, unit="BTC",
              min=0.0001, max=100.0, live=True),
    FieldSpec("decision_interval", "float", 5.0, "Seconds between two decisions of the coordinator.", G,
              unit="s", min=0.2, max=600.0, live=True),
    FieldSpec("maker_expire_seconds", "float", 30.0,
              "A maker order is cancelled this long after it was placed (the seed's 5 to 30 s).", G, unit="s",
              min=5.0, max=30.0, live=True),
    FieldSpec("signal_delay_max", "float", 5.0, "Each maker instruction leaves after a random delay up to this.",
              G, unit="s", min=0.0, max=60.0, live=True),
    FieldSpec("maker_price_offset", "float", 0.1,
              "Maker price = opposite touch moved this far to the passive side (buy: ask - offset).", G,
              unit="USD", min=0.0, max=1000.0, live=True),
    FieldSpec("net_exposure_ratio", "float", 0.04,
              "Taker rebalancing when |B + C| exceeds this fraction of |B| + |C| (and one maker step).", G,
              unit="fraction", min=0.0, max=1.0, live=True),
    FieldSpec("strategy", "choice", "cycle", "cycle: B and C alternate between maximum long and short; "
              "target: hold target_position_b_btc / target_position_c_btc.", G, choices=("cycle", "target")),
    FieldSpec("target_position_b_btc", "float", 0.02, "Target strategy: the position B holds.", G, unit="BTC",
              min=-100.0, max=100.0, live=True),
    FieldSpec("target_position_c_btc", "float", -0.02, "Target strategy: the position C holds.", G, unit="BTC",
              min=-100.0, max=100.0, live=True),
    FieldSpec("target_tolerance_btc", "float", 0.002,
              "Target strategy: no order while the position is this close to its target.", G, unit="BTC",
              min=0.0, max=100.0, live=True),
    FieldSpec("symbol", "str", "BTCUSDT", "The symbol traded.", G),
    FieldSpec("SERVER_B_URL", "url", "http://127.0.0.1:8081", "Address of executor B.", G),
    FieldSpec("SERVER_C_URL", "url", "http://127.0.0.1:8082", "Address of executor C.", G),
    FieldSpec("coordinator_timeout", "float", 15.0,
              "An executor that has not heard from the coordinator this long cancels its orders and trades no "
              "more until it hears again.", G, unit="s", min=1.0, max=600.0),
    FieldSpec("instruction_max_age", "float", 10.0,
              "An instruction older (or newer) than this is refused as stale.", G, unit="s", min=1.0, max=300.0),
    FieldSpec("venue_attempts", "int", 3, "Tries of one venue call before the executor skips it.", G,
              min=1, max=10),
    FieldSpec("venue_countdown_s", "float", 10.0,
              "The venue's dead-man switch (countdownCancelAll), refreshed every 2 s: if an executor dies, the "
              "venue cancels every open order of the symbol on its account this long after; 0 = off.", G,
              unit="s", min=0.0, max=120.0),
    FieldSpec("leverage", "int", 5, "Leverage the executors set on their account for the symbol.", G,
              min=1, max=125),
)

KIND = EngineKind(
    name="maker",
    title="Cycle maker (seed 003)",
    module="maker",
    description="A coordinator drives two executor accounts in opposite directions, maker first, with taker "
                "rebalancing of the net exposure.",
    settings=SETTINGS,
    account_roles=("coordinator", "executor_b", "executor_c"),
    page="maker",
    guard_default="leave",
    tags=("multi-account", "maker"),
)
