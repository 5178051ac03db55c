"""`python -m recorder ...` is `mraster record ...`."""
from bot.cli.main import run_as

run_as("record")
