"""The mraster kernel: what every process shares, and nothing that runs on its own.

settings (the one schema), domain (pure types and maths), exchange (one client for every venue
profile, streams, the live market cache), signals (pure indicator and signal code that live engines
and the backtester call alike), journal, state, storage, safety (kill-switch latch, the one close
routine), marketdata (seed 002's table contract and the torn-line-safe CSV reader the recorder and
the backtester share), logging and process utilities. It imports no application package (tests/test_layout.py).
"""
