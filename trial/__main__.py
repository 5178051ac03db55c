"""`python -m trial` is `mraster trial`."""
from commands.main import run_as

if __name__ == "__main__":
    run_as("trial")
