"""`python -m dashboard` is `mraster dashboard`."""
from commands.main import run_as

if __name__ == "__main__":
    run_as("dashboard")
