"""The `mraster` command: dispatches to every application; it sits above them, not in the kernel."""
