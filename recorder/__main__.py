"""`python -m recorder ...` is `mraster record ...`."""
from commands.main import run_as

run_as("record")
