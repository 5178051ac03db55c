"""Operators against a real paper exchange (child process), built in-process so a test can drive ticks."""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from mraster.engines import resolve_instance
from mraster.exchange.factory import make_exchange
from mraster.settings.loader import load_settings
from mraster.tradedb import TradeDB
from paper.testing import PaperExchange

from deltaneutral.main import build
from deltaneutral.runtime import Operator

SEED_VALUES = {"CAPITAL_USDT": 1000, "LEVERAGE": 15, "TRADING_PAIRS": "BTCUSDT"}


def write_instances(workdir: Path, settings: dict[str, Any], name: str = "dn1", account: str = "main") -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "engines.json").write_text(json.dumps({"instances": [
        {"name": name, "kind": "deltaneutral", "accounts": {"account": account}, "settings": settings}]}))


def env_for(px: PaperExchange, workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**px.env(), "ASTER_CONFIG_FILE": str(workdir / "dashboard_config.json"),
           "ASTER_DOTENV_FILE": str(workdir / ".env"), "ASTER_RUN_DIR": str(workdir / "run"),
           "ASTER_LOG_DIR": str(workdir / "logs"), "ASTER_JOURNAL_FILE": str(workdir / "journal.sqlite"),
           "ASTER_STATE_FILE": str(workdir / "state.json"), "ASTER_HTTP_RETRIES": "1",
           "ASTER_HTTP_BACKOFF": "0.05"}
    env.update(extra or {})
    return env


def make_operator(px: PaperExchange, workdir: Path, settings: dict[str, Any] | None = None,
                  extra_env: dict[str, str] | None = None, name: str = "dn1") -> Operator:
    write_instances(workdir, {**SEED_VALUES, **(settings or {})}, name)
    env = env_for(px, workdir, extra_env)
    loaded = load_settings(env=env, cwd=workdir)
    op, _ = build(loaded, name, env)

    async def no_sleep(_: float) -> None:
        return None
    op.sleep = no_sleep
    return op


def positions(px: PaperExchange, key: str | None = None) -> dict[str, Decimal]:
    state = px.admin("GET", "/state", api_key=key, account=key or px.api_key)
    acct = next(iter(state["accounts"].values()))
    return {f"{p['symbol']}:{p['positionSide']}": Decimal(p["amount"]) for p in acct["positions"]
            if Decimal(p["amount"]) != 0}


async def tick_after_jump(op: Operator, deadline_s: float = 15.0) -> None:
    """One check after the paper venue's clock was advanced. The client's venue clock takes the jump for a
    rate for about a second (mraster/exchange/venueclock.py measures a rate from two syncs) and signed calls
    get -1021 until it re-measures; the operator's loop simply checks again, and so does this."""
    import time
    from mraster.exchange.errors import InvalidTimestampError
    end = time.monotonic() + deadline_s
    while True:
        try:
            await op.tick()
            return
        except InvalidTimestampError:
            if time.monotonic() > end:
                raise
            await asyncio.sleep(0.3)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class LoopThread:
    """One event loop in its own thread, for tests whose thread already runs one (Playwright's sync API):
    the operator's HTTP client lives on this loop for the whole test."""

    def __init__(self) -> None:
        import threading
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def close_clients(op: Operator) -> None:
    await op.long.exchange.close()
    if op.short.exchange is not op.long.exchange:
        await op.short.exchange.close()
    op.db.close()


__all__ = ["LoopThread", "tick_after_jump", "PaperExchange", "TradeDB", "close_clients", "env_for", "make_exchange", "make_operator", "positions", "resolve_instance", "run", "write_instances"]
