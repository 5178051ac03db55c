"""Load and save the state file atomically; a corrupt file is moved aside, never overwritten."""
from __future__ import annotations

from pathlib import Path

from mraster.storage.atomic import CorruptFileError, read_json_checked, write_json_atomic
from mraster.state.model import BotState


class StateStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)

    def load(self) -> BotState | None:
        """The saved state; None if there is none yet. Raises CorruptFileError (after moving the
        file aside) when it cannot be used: the caller logs it and rebuilds from the venue."""
        return read_json_checked(self.path, BotState.from_json)

    def load_or_new(self) -> tuple[BotState, CorruptFileError | None]:
        try:
            state = self.load()
        except CorruptFileError as exc:
            return BotState(), exc
        return (state or BotState()), None

    def save(self, state: BotState) -> None:
        write_json_atomic(self.path, state.to_json(), indent=1)


def read_state_readonly(path: Path | str) -> BotState | None:
    """For readers other than the bot (guard, dashboard): never moves or rewrites the file.
    Returns None when the file is missing, half-written by another writer, or unparsable."""
    import json
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return BotState.from_json(data)
    except (FileNotFoundError, ValueError, TypeError, KeyError, UnicodeDecodeError):
        return None
