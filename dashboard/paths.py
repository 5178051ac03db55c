"""Where the dashboard finds and puts things, resolved the way the children resolve them.

Children run with the config file's directory as their working directory, so a
relative ASTER_LOG_DIR, ASTER_RUN_DIR or ASTER_STATE_FILE means the same file
for them and for the dashboard.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mraster.settings import LoadedSettings

AUDIT_FILE = "dashboard_audit.jsonl"


@dataclass(frozen=True)
class DashboardPaths:
    base_dir: Path
    config_file: Path
    dotenv_file: Path
    log_dir: Path
    run_dir: Path
    state_file: Path
    audit_file: Path
    journal_file: Path | None = None      # the bot's journal (read only here)

    @property
    def exits_journal(self) -> Path:
        """The dashboard's own journal of the exits it recorded (dashboard/services/exits.py)."""
        base = self.journal_file or self.base_dir / "aster_journal.sqlite"
        return base.with_name(base.stem + ".dashboard" + (base.suffix or ".sqlite"))

    @classmethod
    def from_loaded(cls, loaded: LoadedSettings) -> "DashboardPaths":
        config = (loaded.config_file or Path.cwd() / "dashboard_config.json").absolute()
        dotenv = (loaded.dotenv_file or config.parent / ".env").absolute()
        base = config.parent
        s: Any = loaded.settings

        def at(value: str) -> Path:
            p = Path(value).expanduser()
            return p if p.is_absolute() else base / p

        return cls(base, config, dotenv, at(s.log_dir), at(s.run_dir), at(s.state_file), base / AUDIT_FILE,
                   at(s.journal_file))
