"""The `mraster` command line."""
