from commands.main import run_as

run_as("maker")
