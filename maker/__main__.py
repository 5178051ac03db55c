"""`python -m maker --instance NAME` (how the dashboard starts an instance) = `mraster maker run --instance NAME`;
`python -m maker executor ...` etc. = `mraster maker executor ...`."""
import sys

from commands.main import run_as

if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
    sys.argv.insert(1, "run")
run_as("maker")
