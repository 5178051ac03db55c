"""Build a Bot on an in-memory venue (tests/bot/fakevenue.py) with settings isolated in tmp_path."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.runtime.loop import Bot
from mraster.settings import load_settings
from mraster.state import StateStore


def bot_env(tmp_path: Path, **overrides: Any) -> dict[str, str]:
    env = {
        "ASTER_CONFIG_FILE": str(tmp_path / "dashboard_config.json"),
        "ASTER_DOTENV_FILE": str(tmp_path / "none.env"),
        "ASTER_STATE_FILE": str(tmp_path / "aster_state.json"),
        "ASTER_JOURNAL_FILE": str(tmp_path / "aster_journal.sqlite"),
        "ASTER_LOG_DIR": str(tmp_path / "logs"),
        "ASTER_RUN_DIR": str(tmp_path / "run"),
        "ASTER_PAPER": "true",
        "ASTER_PAPER_URL": "http://127.0.0.1:9",       # never contacted: the venue is injected
        "ASTER_RUN_ONCE": "true",
        "ASTER_INCLUDE_SYMBOLS": "",
        "ASTER_KLINES": "60",
        "ASTER_BANDIT_ENABLED": "false",
        "ASTER_MAX_OPEN_GLOBAL": "2",
        "ASTER_LOOP_SLEEP": "0",
    }
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def make_bot(tmp_path: Path, venue: Any, **overrides: Any) -> Bot:
    env = bot_env(tmp_path, **overrides)
    return Bot(load_settings(env=env), env=env, exchange_factory=lambda s: venue)


async def run_once(tmp_path: Path, venue: Any, **overrides: Any) -> Bot:
    bot = make_bot(tmp_path, venue, **overrides)
    assert await bot.run() == 0
    return bot


def state_of(tmp_path: Path):
    return StateStore(tmp_path / "aster_state.json").load()


def set_config(tmp_path: Path, **values: Any) -> None:
    (tmp_path / "dashboard_config.json").write_text(json.dumps(values))
