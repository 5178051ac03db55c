"""The bot's persisted state (aster_state.json): model and atomic store."""
from mraster.state.model import SCHEMA_VERSION, BotState, Trade
from mraster.state.store import StateStore, read_state_readonly

__all__ = ["SCHEMA_VERSION", "BotState", "StateStore", "Trade", "read_state_readonly"]
