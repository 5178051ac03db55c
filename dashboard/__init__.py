"""Web control center for bot and guard (FastAPI + Jinja2)."""
