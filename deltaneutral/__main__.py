"""`python -m deltaneutral --instance NAME` (how the dashboard starts an instance): `mraster deltaneutral`."""
from commands.main import run_as

run_as("deltaneutral")
