"""The paper venue's matching engine: pure (no I/O, no clock reads), reusable by the backtester."""
from paper.engine.engine import Engine, Outbox
from paper.engine.errors import VenueError
from paper.engine.model import EAccount, EOrder, EPosition, Fill, Income, NewOrder
from paper.engine.specs import Bracket, SymbolSpec, brackets_for

__all__ = ["Bracket", "EAccount", "EOrder", "EPosition", "Engine", "Fill", "Income", "NewOrder", "Outbox",
           "SymbolSpec", "VenueError", "brackets_for"]
