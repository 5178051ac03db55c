"""The SQLite trade journal: orders, fills, fees, funding and trade results (docs/bot.md)."""
from mraster.journal.journal import SCHEMA_VERSION, Journal

__all__ = ["SCHEMA_VERSION", "Journal"]
