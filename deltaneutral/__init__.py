"""Seed 004's delta-neutral hold-and-rotate operator (engine kind `deltaneutral`): docs/deltaneutral.md."""
