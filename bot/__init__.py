"""The RSI/ATR scanner engine (`mraster bot`): scan loop, decisions, entries with brackets."""
