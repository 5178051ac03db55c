"""`python -m dashboard` is `mraster dashboard`."""
from bot.cli.main import run_as

if __name__ == "__main__":
    run_as("dashboard")
