"""The bot's persisted state (aster_state.json): model and atomic store."""
from .model import SCHEMA_VERSION, BotState, Trade
from .store import StateStore, read_state_readonly

__all__ = ["SCHEMA_VERSION", "BotState", "StateStore", "Trade", "read_state_readonly"]
