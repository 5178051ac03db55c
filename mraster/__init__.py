"""The mraster kernel: what every process shares, and nothing that runs on its own.

settings (the one schema), domain (pure types and maths), exchange (one client for every venue
profile, streams, the live market cache), signals (pure indicator and signal code that live engines
and the backtester call alike), journal, state, storage, safety (kill-switch latch, the one close
routine), logging and process utilities. It imports no application package (tests/test_layout.py).
"""
