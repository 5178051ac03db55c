"""The log hub: tails every process's JSON-lines file and fans the lines out to browsers.

The processes write their files whether or not anybody reads them; the hub only
reads. Each WebSocket client has its own bounded queue: when a client is slow or
stuck, its oldest lines are dropped (and counted, so the page can say so) while
every other client, the hub and the writers go on at full speed.
"""
from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from dashboard.services.tail import FileTailer
from mraster.aio import cancel_and_wait

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
SOURCES = ("bot", "guard", "paper", "dashboard")


def level_number(level: str) -> int:
    return LEVELS.get(str(level).upper(), 20)


def is_activity(entry: dict[str, Any]) -> bool:
    """The curated feed: lines marked `activity: true`, and every warning or error."""
    return entry.get("activity") is True or level_number(entry.get("level", "INFO")) >= 30


@dataclass(frozen=True)
class LogFilter:
    min_level: int = 0
    sources: frozenset[str] | None = None   # None = every source
    activity_only: bool = False

    @classmethod
    def parse(cls, level: str | None = None, sources: str | Iterable[str] | None = None,
              activity: bool | str | None = None, known: Iterable[str] = SOURCES) -> "LogFilter":
        """From query parameters or a client message; raises ValueError with a readable reason."""
        min_level = 0
        if level:
            if str(level).upper() not in LEVELS:
                raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
            min_level = LEVELS[str(level).upper()]
        chosen = None
        if sources:
            items = sources.split(",") if isinstance(sources, str) else list(sources)
            chosen = frozenset(s.strip().lower() for s in items if str(s).strip())
            known = tuple(known)
            unknown = chosen - set(known)
            if unknown:
                raise ValueError(f"unknown source(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")
        flag = activity in (True, "1", "true", "yes", "on")
        return cls(min_level, chosen, flag)

    def matches(self, entry: dict[str, Any]) -> bool:
        if self.sources is not None and entry.get("src") not in self.sources:
            return False
        if level_number(entry.get("level", "INFO")) < self.min_level:
            return False
        return not self.activity_only or bool(entry.get("feed"))


class Subscription:
    """One client's queue: bounded, dropping the oldest line when full."""

    def __init__(self, flt: LogFilter, maxlen: int):
        self.filter = flt
        self.maxlen = maxlen
        self._queue: deque[dict[str, Any]] = deque()
        self._event = asyncio.Event()
        self.dropped = 0          # since the last batch (sent to the client)
        self.dropped_total = 0

    def offer(self, entry: dict[str, Any]) -> None:
        if not self.filter.matches(entry):
            return
        if len(self._queue) >= self.maxlen:
            self._queue.popleft()
            self.dropped += 1
            self.dropped_total += 1
        self._queue.append(entry)
        self._event.set()

    async def next_batch(self, max_items: int = 500) -> tuple[list[dict[str, Any]], int]:
        """Wait for lines; returns (lines, lines dropped since the last batch)."""
        while not self._queue:
            self._event.clear()
            await self._event.wait()
        batch = [self._queue.popleft() for _ in range(min(max_items, len(self._queue)))]
        dropped, self.dropped = self.dropped, 0
        return batch, dropped

    def pending(self) -> int:
        return len(self._queue)


def parse_line(raw: str, source: str, seq: int) -> dict[str, Any]:
    """A log line as the page gets it; lines that are not JSON are kept as plain messages."""
    try:
        entry = json.loads(raw)
        if not isinstance(entry, dict):
            raise ValueError
    except ValueError:
        entry = {"level": "INFO", "msg": raw, "event": "output"}
    entry.setdefault("src", source)
    entry["level"] = str(entry.get("level", "INFO")).upper()
    entry.setdefault("msg", entry.get("event", ""))
    entry["seq"] = seq
    entry["feed"] = is_activity(entry)
    return entry


class LogHub:
    def __init__(self, log_dir: Path, *, sources: Iterable[str] = SOURCES, backlog: int = 2000,
                 backlog_bytes: int = 512 * 1024, client_queue: int = 2000, poll_interval: float = 0.05,
                 secrets: Iterable[str] = ()):
        self.log_dir = Path(log_dir)
        self.sources = tuple(sources)
        self.backlog: deque[dict[str, Any]] = deque(maxlen=backlog)
        self.client_queue = client_queue
        self._backlog_bytes = backlog_bytes
        self.poll_interval = poll_interval
        self._secrets = [s for s in secrets if s and len(s) >= 4]
        self._tailers = {src: FileTailer(self.log_dir / f"{src}.jsonl", backlog_bytes=backlog_bytes)
                         for src in self.sources}
        self._subs: set[Subscription] = set()
        self._seq = 0
        self._task: asyncio.Task | None = None
        self.lines_total = 0

    def add_source(self, name: str) -> None:
        """Follow one more process's log file (an engine instance added while the dashboard runs)."""
        if name not in self._tailers:
            self.sources = (*self.sources, name)
            self._tailers[name] = FileTailer(self.log_dir / f"{name}.jsonl", backlog_bytes=self._backlog_bytes)

    async def open(self) -> None:
        self._load_backlog()
        self._task = asyncio.create_task(self._run(), name="loghub-tail")

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        for tailer in self._tailers.values():
            tailer.close()

    def subscribe(self, flt: LogFilter, backlog_lines: int = 500) -> tuple[Subscription, list[dict[str, Any]]]:
        """A new client queue plus the recent lines that match its filter (oldest first)."""
        sub = Subscription(flt, self.client_queue)
        matched = [e for e in self.backlog if flt.matches(e)]
        self._subs.add(sub)
        return sub, matched[-backlog_lines:] if backlog_lines else []

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    @property
    def client_count(self) -> int:
        return len(self._subs)

    def stats(self) -> dict[str, Any]:
        return {"lines_total": self.lines_total, "backlog": len(self.backlog), "sources": list(self.sources),
                "clients": [{"pending": s.pending(), "dropped_total": s.dropped_total} for s in self._subs]}

    def recent(self, flt: LogFilter, limit: int = 200) -> list[dict[str, Any]]:
        """The latest matching lines, read up to what is on disk now (not up to the last poll:
        a line written just before the request is in the answer)."""
        self._catch_up()
        return [e for e in self.backlog if flt.matches(e)][-limit:]

    def _catch_up(self) -> None:
        try:
            self.poll_once()
        except OSError:
            pass  # a file vanished between stat and read: the next poll sorts it out

    # ------------------------------------------------------------------ internals
    def _clean(self, raw: str) -> str:
        for secret in self._secrets:
            if secret in raw:
                raw = raw.replace(secret, "***")
        return raw

    def _load_backlog(self) -> None:
        """Recent lines of every file, merged by time, so the page starts with context."""
        loaded: list[tuple[str, str, str]] = []
        for src, tailer in self._tailers.items():
            for raw in tailer.poll():
                loaded.append((_ts_of(raw), src, raw))
        loaded.sort(key=lambda item: item[0])
        for _, src, raw in loaded[-self.backlog.maxlen:] if self.backlog.maxlen else loaded:
            self._publish(src, raw)

    def _publish(self, src: str, raw: str) -> None:
        self._seq += 1
        entry = parse_line(self._clean(raw), src, self._seq)
        self.backlog.append(entry)
        self.lines_total += 1
        for sub in self._subs:
            sub.offer(entry)

    def poll_once(self) -> int:
        count = 0
        for src, tailer in self._tailers.items():
            for raw in tailer.poll():
                self._publish(src, raw)
                count += 1
        return count

    async def _run(self) -> None:
        while True:
            self._catch_up()
            await asyncio.sleep(self.poll_interval)


def _ts_of(raw: str) -> str:
    """The "ts" field of a line without parsing all of it (ISO strings sort by time)."""
    at = raw.find('"ts": "')
    return raw[at + 7:at + 31] if at >= 0 else ""
