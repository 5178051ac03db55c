"""`python -m bot` is `mraster bot`."""
from commands.main import run_as

if __name__ == "__main__":
    run_as("bot")
