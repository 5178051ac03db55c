"""`python -m ops ARGS` is `mraster ops ARGS` (the dashboard's scheduler runs its jobs this way)."""
from commands.main import run_as

run_as("ops")
