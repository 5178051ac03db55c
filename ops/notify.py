"""Notifications while running: `mraster ops notify` follows the processes' JSON-lines logs and sends
the event kinds the operator opted into (ASTER_NOTIFY_EVENTS) by email and to a webhook.

Why a follower of the logs: every process already writes its events there, so the engines need no
change, and the notifier runs in its own process: a slow mail server or a dead webhook can never
block or slow trading. Delivery is in a background thread with retries (exponential backoff) and a
rate limit per minute; what exceeds the limit is merged into one summary. Every text passes the
log redaction (secrets registered at start) and the webhook URL is never part of a message.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol
from urllib.parse import urlparse

import httpx

from mraster.logs import get_logger, redact
from mraster.storage.atomic import write_json_atomic

log = get_logger("ops")

KINDS = ("entry", "exit", "guard_repair_failed", "kill_switch", "engine_crashed", "engine_restarted",
         "recorder_gap", "daily_report", "job_failed")
TITLES = {"entry": "Entry", "exit": "Exit", "guard_repair_failed": "Guard repair failing",
          "kill_switch": "Kill-switch fired", "engine_crashed": "Engine crashed",
          "engine_restarted": "Engine restarted", "recorder_gap": "Recorder gap", "daily_report": "Daily report",
          "job_failed": "Scheduled job failed"}
DISCORD_MAX = 2000


@dataclass(frozen=True)
class Event:
    kind: str
    text: str
    ts: str = ""
    src: str = ""
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return TITLES.get(self.kind, self.kind)


def classify(line: dict[str, Any]) -> str | None:
    """The notification kind of one log line, or None (pure; docs/ops.md lists the mapping)."""
    event, src, level = str(line.get("event", "")), str(line.get("src", "")), str(line.get("level", ""))
    if event == "fill" and src == "bot":
        return "entry"
    if event == "position.closed":
        return "exit"
    if event == "kill_switch":
        return "kill_switch"
    if event == "position.unprotected" or (src == "guard" and level == "ERROR" and not event.startswith("kill_switch")):
        return "guard_repair_failed"
    if event == "process.crashed":
        return "engine_crashed"
    if event in ("process.auto_restart", "process.adopted"):
        return "engine_restarted"
    if event == "recorder.gap":
        return "recorder_gap"
    if event == "ops.report.sent":
        return "daily_report"
    if event == "ops.job" and level != "INFO":
        return "job_failed"
    return None


JOB_UNITS = ("daily-batch", "weekly-backtest", "daily-report")


def unit_failure_event(unit: str) -> Event:
    """What systemd's OnFailure= hook reports: a job unit failed, or an engine unit crashed."""
    kind = "job_failed" if any(f"-{job}." in unit for job in JOB_UNITS) else "engine_crashed"
    return Event(kind, f"systemd unit {unit} failed (journalctl -u {unit})", src="systemd")


def enabled_kinds(setting: str) -> frozenset[str]:
    if setting == "all":
        return frozenset(KINDS)
    return frozenset(k for k in setting.split(",") if k in KINDS)


_FIELDS = ("symbol", "side", "qty", "price", "net_pnl", "reason", "child", "exit_code", "stream", "seconds")


def event_of(line: dict[str, Any], kinds: frozenset[str]) -> Event | None:
    kind = classify(line)
    if kind is None or kind not in kinds:
        return None
    fields = {k: line[k] for k in _FIELDS if k in line}
    return Event(kind, redact(str(line.get("msg", "")))[:1000], str(line.get("ts", "")), str(line.get("src", "")),
                 json.loads(redact(json.dumps(fields, default=str))))


# ------------------------------------------------------------------------------------------ payloads
def webhook_format(url: str, setting: str) -> str:
    if setting != "auto":
        return setting
    host = (urlparse(url).hostname or "").lower()
    if host.endswith("slack.com"):
        return "slack"
    if host.endswith("discord.com") or host.endswith("discordapp.com"):
        return "discord"
    return "json"


def message_text(events: list[Event], suppressed: int = 0) -> str:
    lines = [f"[mraster] {e.title}: {e.text}" + (f" ({e.ts})" if e.ts else "") for e in events]
    if suppressed:
        lines.append(f"[mraster] {suppressed} more notification(s) merged by the rate limit (see the logs)")
    return "\n".join(lines)


def webhook_payload(events: list[Event], fmt: str, suppressed: int = 0) -> dict[str, Any]:
    """Slack takes `text`, Discord `content` (at most 2000 characters); json has both and the events."""
    text = message_text(events, suppressed)
    if fmt == "slack":
        return {"text": text}
    if fmt == "discord":
        return {"content": text if len(text) <= DISCORD_MAX else text[:DISCORD_MAX - 1] + "…", "username": "mraster"}
    return {"text": text, "content": text[:DISCORD_MAX], "suppressed": suppressed,
            "events": [{"kind": e.kind, "title": e.title, "text": e.text, "ts": e.ts, "src": e.src,
                        "fields": e.fields} for e in events]}


# ------------------------------------------------------------------------------------------ delivery
class Sink(Protocol):
    name: str

    def send(self, events: list[Event], suppressed: int) -> None: ...


class WebhookSink:
    name = "webhook"

    def __init__(self, url: str, fmt: str = "auto", timeout: float = 10.0):
        self._url = url
        self.fmt = webhook_format(url, fmt)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"WebhookSink(format={self.fmt!r})"     # the URL holds a token: never shown

    def send(self, events: list[Event], suppressed: int) -> None:
        try:
            resp = httpx.post(self._url, json=webhook_payload(events, self.fmt, suppressed), timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook unreachable ({type(exc).__name__})") from None
        if resp.status_code >= 300:
            raise DeliveryError(f"webhook answered HTTP {resp.status_code}")


class EmailSink:
    name = "email"

    def __init__(self, config: Any, to: list[str]):
        self.config, self.to = config, to

    def send(self, events: list[Event], suppressed: int) -> None:
        from ops.mail import MailError, build_message, send
        from ops.render import Rendered
        text = message_text(events, suppressed)
        subject = f"mraster: {events[0].title}" + (f" (+{len(events) - 1 + suppressed} more)"
                                                   if len(events) + suppressed > 1 else "")
        html = "<html><body><pre>" + text.replace("&", "&amp;").replace("<", "&lt;") + "</pre></body></html>"
        try:
            send(self.config, build_message(Rendered(subject, html, text + "\n"), self.config.sender, self.to))
        except MailError as exc:
            raise DeliveryError(str(exc)) from None


class DeliveryError(Exception):
    pass


class RateLimit:
    """At most `per_minute` sends in any 60 s window (the clock is injected)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self.sent: list[float] = []

    def allow(self) -> bool:
        now = self.clock()
        self.sent = [t for t in self.sent if now - t < 60.0]
        if len(self.sent) < self.per_minute:
            self.sent.append(now)
            return True
        return False


class Dispatcher:
    """Queue + one background thread: `submit` never blocks; each batch goes to every sink with
    retries. Events over the rate limit are counted and announced with the next allowed batch."""

    def __init__(self, sinks: list[Any], *, per_minute: int = 20, retries: int = 3, backoff: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 max_queue: int = 10_000):
        self.sinks = sinks
        self.rate = RateLimit(per_minute, clock)
        self.retries, self.backoff, self.sleep = retries, backoff, sleep
        self.queue: queue.Queue[Event | None] = queue.Queue(max_queue)
        self.suppressed = 0
        self.delivered: list[tuple[str, str]] = []    # (sink, kind) of every delivery, for status and tests
        self.failed: list[tuple[str, str]] = []
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0                 # submitted, not yet handled (guarded by _lock)
        self._lock = threading.Lock()

    def start(self) -> "Dispatcher":
        self._thread.start()
        return self

    def submit(self, event: Event) -> None:
        with self._lock:
            try:
                self.queue.put_nowait(event)
            except queue.Full:
                self.dropped += 1
                return
            self._pending += 1
            self._idle.clear()

    def close(self, timeout: float = 30.0) -> None:
        self.queue.put(None)
        self._thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """True once everything submitted so far was handled (tests, shutdown)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < 20:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.queue.put(None)
                    break
                batch.append(nxt)
            if self.rate.allow():
                suppressed, self.suppressed = self.suppressed, 0
                for sink in self.sinks:
                    self._deliver(sink, batch, suppressed)
            else:
                self.suppressed += len(batch)
            with self._lock:
                self._pending -= len(batch)
                if self._pending == 0:
                    self._idle.set()

    def _deliver(self, sink: Any, batch: list[Event], suppressed: int) -> None:
        for attempt in range(self.retries + 1):
            try:
                sink.send(batch, suppressed)
                self.delivered += [(sink.name, e.kind) for e in batch]
                return
            except Exception as exc:   # a sink must never stop the thread
                log.warning("notify.failed", f"notification to {sink.name} failed (attempt {attempt + 1}): "
                            f"{redact(str(exc))}", sink=sink.name, attempt=attempt + 1)
                if attempt < self.retries:
                    self.sleep(self.backoff * 2 ** attempt)
        self.failed += [(sink.name, e.kind) for e in batch]
        log.error("notify.gave_up", f"gave up on {len(batch)} notification(s) to {sink.name}", sink=sink.name)


# ------------------------------------------------------------------------------------------ log follower
class LogFollower:
    """New complete lines of `<log_dir>/*.jsonl`, from where the last run stopped (offsets kept in a
    small JSON file, written atomically); a file seen for the first time is read from its end, so a
    restart never replays old events. A rotated or truncated file is read again from its start."""

    def __init__(self, log_dir: Path, offsets_file: Path, skip: tuple[str, ...] = ()):
        self.log_dir, self.offsets_file, self.skip = log_dir, offsets_file, skip
        self.offsets: dict[str, tuple[int, int]] = {}      # name -> (inode, offset)
        try:
            raw = json.loads(offsets_file.read_text())
            self.offsets = {k: (int(v[0]), int(v[1])) for k, v in raw.items()}
        except (OSError, ValueError, TypeError, IndexError, AttributeError):
            self.offsets = {}
        self._known_files = set(self.offsets)
        self._first = not self.offsets

    def poll(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if not self.log_dir.is_dir():
            return out
        for path in sorted(self.log_dir.glob("*.jsonl")):
            if path.stem in self.skip:
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            inode, offset = self.offsets.get(path.name, (st.st_ino, -1))
            if offset < 0:
                offset = st.st_size if self._first else 0
            if inode != st.st_ino or st.st_size < offset:
                offset = 0
            if st.st_size > offset:
                with path.open("rb") as fh:
                    fh.seek(offset)
                    data = fh.read(st.st_size - offset)
                end = data.rfind(b"\n") + 1
                for raw in data[:end].splitlines():
                    try:
                        line = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(line, dict):
                        out.append(line)
                offset += end
            self.offsets[path.name] = (st.st_ino, offset)
        self._first = False
        write_json_atomic(self.offsets_file, {k: list(v) for k, v in self.offsets.items()})
        return out


def build_sinks(settings: Any) -> list[Any]:
    from ops.mail import SmtpConfig, recipients
    sinks: list[Any] = []
    if settings.notify_webhook_url:
        sinks.append(WebhookSink(settings.notify_webhook_url, settings.notify_webhook_format))
    if settings.notify_email:
        to = recipients(settings.email_to_prod)
        if to:
            sinks.append(EmailSink(SmtpConfig.from_settings(settings), to))
    return sinks


def follow(settings: Any, log_dir: Path, run_dir: Path, *, stop: threading.Event, interval: float = 1.0,
           dispatcher: Dispatcher | None = None) -> Dispatcher:
    """The notifier's loop: poll the logs, submit opted-in events, until `stop` is set."""
    kinds = enabled_kinds(settings.notify_events)
    disp = dispatcher or Dispatcher(build_sinks(settings), per_minute=settings.notify_rate_per_min,
                                    retries=settings.notify_retries).start()
    follower = LogFollower(log_dir, run_dir / "ops" / "notify_offsets.json")
    log.info("notify.start", f"notifications on for {', '.join(sorted(kinds)) or 'nothing'} to "
             f"{', '.join(s.name for s in disp.sinks) or 'no sink'}", kinds=sorted(kinds))
    while not stop.is_set():
        for line in follower.poll():
            event = event_of(line, kinds)
            if event is not None:
                disp.submit(event)
        stop.wait(interval)
    return disp
