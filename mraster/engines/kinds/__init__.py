"""One module per engine kind, each defining `KIND = EngineKind(...)` (see mraster/engines/registry.py)."""
