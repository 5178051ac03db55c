"""`python -m paper` is `mraster paper-exchange`."""
from commands.main import run_as

if __name__ == "__main__":
    run_as("paper-exchange")
