"""`python -m guard` is `mraster guard`."""
from commands.main import run_as

if __name__ == "__main__":
    run_as("guard")
