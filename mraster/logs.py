"""Structured logging shared by every process: one JSON object per line.

Line format (documented in docs/logs.md, read by the dashboard):
  {"ts": "2026-11-21T19:20:00.123Z", "level": "INFO", "src": "bot", "event": "order.placed",
   "msg": "...", "activity": true, ...event fields}
`activity: true` marks the curated events a newcomer sees in the activity feed
(fills, bracket placements and repairs, warnings, notices).

Lines go to stdout and to a rotating file `<ASTER_LOG_DIR>/<src>.jsonl`; under the dashboard
(MRASTER_STDOUT_LEVEL=WARNING) stdout keeps only warnings and errors. Known
secret values are replaced before a line is written, whatever the caller passed.

When stdout is a terminal it gets one readable line per record instead (`HumanFormatter`:
time, level, source, message, then the fields); the files always get JSON lines.
MRASTER_LOG_FORMAT=json|human forces one. No line carries ANSI escape codes (uvicorn's
`color_message` is dropped, escapes in messages are removed) and uvicorn's access lines are
never written (`NoAccessLines`): every request of the page's polling would drown the rest.
"""
from __future__ import annotations

import json
import logging
import re
import logging.handlers
import os
import sys
import time
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Iterable

_SECRETS: set[str] = set()
REDACTED = "***"
# Set by a supervisor that sends stdout to a file: the lowest level also written to stdout when the
# process writes its own .jsonl file (the dashboard sets WARNING, so lines are not stored twice).
STDOUT_LEVEL_ENV = "MRASTER_STDOUT_LEVEL"
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
FORMAT_ENV = "MRASTER_LOG_FORMAT"
DROPPED = {"color_message"}          # uvicorn's copy of the message with ANSI colours
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text) if "\x1b" in text else text


class NoAccessLines(logging.Filter):
    """Drops uvicorn's per-request access lines, whatever level they are logged at."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("uvicorn.access")


def register_secrets(values: Iterable[str]) -> None:
    """Values that must never appear in a log line (API secret, key, dashboard token)."""
    for v in values:
        if v and len(v) >= 4:
            _SECRETS.add(v)


def redact(text: str) -> str:
    # longest first: a short secret inside a longer one must not leave the longer one's tail visible
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return str(value)


class JsonFormatter(logging.Formatter):
    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def format(self, record: logging.LogRecord) -> str:
        created = record.created
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z",
            "level": record.levelname,
            "src": getattr(record, "src", None) or self.source,
            "event": getattr(record, "event", None) or record.name,
            "msg": strip_ansi(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key in _RESERVED or key in line or key.startswith("_") or key == "src" or key in DROPPED:
                continue
            line[key] = _plain(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(line, ensure_ascii=False, default=str))


class HumanFormatter(logging.Formatter):
    """`07:25:20.123 INFO  bot    message  symbol=BTCUSDT qty=0.01` for a person at a terminal."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def format(self, record: logging.LogRecord) -> str:
        created = record.created
        stamp = time.strftime("%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}"
        src = getattr(record, "src", None) or self.source
        fields = []
        for key, value in record.__dict__.items():
            if key in _RESERVED or key.startswith("_") or key in ("src", "event", "activity") or key in DROPPED:
                continue
            text = json.dumps(_plain(value), ensure_ascii=False, default=str) if isinstance(value, (dict, list, tuple)) \
                else str(_plain(value))
            fields.append(f"{key}={text if len(text) <= 80 else text[:77] + '...'}")
        line = f"{stamp} {record.levelname:<7} {src:<9} {strip_ansi(record.getMessage())}"
        if fields:
            line += "  " + " ".join(fields)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


def stdout_formatter(source: str, stream: Any = None) -> logging.Formatter:
    """JSON lines, or readable lines when the stream is a terminal (MRASTER_LOG_FORMAT decides if set)."""
    forced = os.environ.get(FORMAT_ENV, "").strip().lower()
    stream = sys.stdout if stream is None else stream
    human = forced == "human" or (forced != "json" and bool(getattr(stream, "isatty", lambda: False)()))
    return HumanFormatter(source) if human else JsonFormatter(source)


class EventLogger:
    """`log.info("order.placed", "placed stop", symbol=..., client_id=...)`: event name, text, fields."""

    def __init__(self, logger: logging.Logger):
        self._logger = logger

    def _log(self, level: int, event: str, msg: str, fields: dict[str, Any], exc_info: Any = None) -> None:
        if self._logger.isEnabledFor(level):
            bad = [k for k in fields if k in _RESERVED]
            for k in bad:
                fields[f"{k}_"] = fields.pop(k)
            self._logger.log(level, msg or event, extra={"event": event, **fields}, exc_info=exc_info,
                             stacklevel=3)

    def debug(self, event: str, msg: str = "", **fields: Any) -> None:
        self._log(logging.DEBUG, event, msg, fields)

    def info(self, event: str, msg: str = "", **fields: Any) -> None:
        self._log(logging.INFO, event, msg, fields)

    def warning(self, event: str, msg: str = "", **fields: Any) -> None:
        self._log(logging.WARNING, event, msg, fields)

    def error(self, event: str, msg: str = "", **fields: Any) -> None:
        self._log(logging.ERROR, event, msg, fields)

    def exception(self, event: str, msg: str = "", **fields: Any) -> None:
        self._log(logging.ERROR, event, msg, fields, exc_info=True)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - mirrors logging API
        return self._logger.isEnabledFor(level)

    @property
    def logger(self) -> logging.Logger:
        return self._logger


def get_logger(name: str) -> EventLogger:
    return EventLogger(logging.getLogger(name))


def setup_logging(source: str, level: str = "INFO", log_dir: str | Path | None = None, *,
                  stdout: bool = True, secrets: Iterable[str] = (), max_bytes: int = 20_000_000,
                  backups: int = 5) -> Path | None:
    """Configure the root logger of this process. Returns the log file path (if any)."""
    register_secrets(secrets)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    formatter = JsonFormatter(source)
    access = NoAccessLines()
    if stdout:
        h = logging.StreamHandler(sys.stdout)
        h.setFormatter(stdout_formatter(source))
        h.addFilter(access)
        floor = os.environ.get(STDOUT_LEVEL_ENV, "").strip().upper()
        if log_dir is not None and floor in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            h.setLevel(floor)
        root.addHandler(h)
    path = None
    if log_dir is not None:
        path = Path(log_dir) / f"{source}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                                  encoding="utf-8")
        fh.setFormatter(formatter)
        fh.addFilter(access)
        root.addHandler(fh)
    for name in ("uvicorn", "uvicorn.error"):   # uvicorn's own config may have given them handlers,
        own = logging.getLogger(name)            # a level, or disabled them (dictConfig) in this process
        for handler in list(own.handlers):
            own.removeHandler(handler)
        own.propagate = True
        own.setLevel(logging.NOTSET)
        own.disabled = False
    for noisy in ("httpx", "httpcore", "websockets", "uvicorn.access", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return path


def set_level(level: str) -> None:
    logging.getLogger().setLevel(getattr(logging, level.upper(), logging.INFO))


def settings_secrets(settings: Any) -> list[str]:
    """Every value of a setting marked secret (API keys, token, SMTP password, webhook URL ...)."""
    from mraster.settings.fields import FIELDS
    return [str(getattr(settings, f.attr, "") or "") for f in FIELDS if f.secret]
