"""Market feeds of the paper exchange: synthetic, replay, live, and the choice between them (select.py)."""
