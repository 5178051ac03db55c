"""`python -m momentum` is `mraster momentum` (the dashboard starts an instance as `python -m momentum --instance <name>`)."""
from commands.main import run_as

if __name__ == "__main__":
    run_as("momentum")
