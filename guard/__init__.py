"""Bracket guard: a separate process that keeps every open position protected."""
