"""`python -m bot` is `mraster bot`."""
from bot.cli.main import run_as

if __name__ == "__main__":
    run_as("bot")
