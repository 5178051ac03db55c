"""Money-safety code every engine on an account shares: the one close-order routine
(`closeout.py`) and the kill-switch latch (`killswitch.py`).

Kernel-level: it imports only the domain types, the exchange interface and the storage helpers,
never a process's runtime, so the bot, the guard, the dashboard and later engines can all use it.
"""
