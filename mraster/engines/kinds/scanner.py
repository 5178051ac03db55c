"""The RSI/ATR scanner of seed 001 (package `bot`): the flat `ASTER_*` settings, one account."""
from mraster.engines.registry import EngineKind

KIND = EngineKind(
    name="scanner",
    title="RSI/ATR scanner",
    module="bot",
    description="Scans the universe for RSI extremes with ATR brackets; a LinUCB bandit admits and sizes entries.",
    flat_settings=True,
    account_roles=("account",),
    page="engine",
    guard_default="protect",
)
