"""The paper venue's matching engine: pure (no I/O, no clock reads), reusable by the backtester."""
from .engine import Engine, Outbox
from .errors import VenueError
from .model import EAccount, EOrder, EPosition, Fill, Income, NewOrder
from .specs import Bracket, SymbolSpec, brackets_for

__all__ = ["Bracket", "EAccount", "EOrder", "EPosition", "Engine", "Fill", "Income", "NewOrder", "Outbox",
           "SymbolSpec", "VenueError", "brackets_for"]
