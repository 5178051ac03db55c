"""The recorder loop: one snapshot per symbol per venue second from the live cache, into five CSV families.

At each venue second S the cache's state is taken (so a row never holds an event from after S); once
the clock passes S by `SETTLE_MS` (trades of [S-1 s, S) have arrived) the rows of S are written and
flushed, and every `STATUS_EVERY_S` rewrites the status file the
dashboard reads. Days, rolls and `ts_unix_ms` follow the venue's clock (event times), injectable.
"""
from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mraster.exchange.errors import ExchangeError
from mraster.exchange.market_cache import STREAM_KINDS, MarketCache
from mraster.logs import get_logger
from mraster.marketdata.schema import AGG_TRADE_1S, TABLES
from mraster.storage.atomic import write_json_atomic
from recorder.csvfiles import FamilySet, last_ts_by_symbol
from recorder.gaps import GAPS, Gap, GapTracker
from recorder.rows import day_of, snapshot_lines, time_columns

log = get_logger("recorder")
SETTLE_MS = 250                 # a second is written this long after it ends (late trades still count)
STATUS_EVERY_S = 1.0
WARMUP_S = 10.0                 # wait this long at most for every stream's first data before the first row
STATUS_FILE = "recorder_status.json"
LOCK_FILE = ".recorder.lock"


class RecorderBusy(RuntimeError):
    """Another recorder writes into the same directory."""


class UnknownSymbols(ValueError):
    """The venue does not list some of the symbols asked for."""


@dataclass
class RecorderConfig:
    symbols: list[str]
    log_dir: Path
    poll_time: float | None = None
    delete_existing: bool = False
    name: str = "recorder"
    stale_after_s: dict[str, float] = field(default_factory=dict)
    status_path: Path | None = None          # default: <log_dir>/recorder_status.json (the classic recorder)
    instance: str | None = None              # an engine instance: its status file says so (kind, no positions)

    @property
    def status_file(self) -> Path:
        return self.status_path or Path(self.log_dir) / STATUS_FILE


def today_paths(log_dir: Path, day: str) -> list[Path]:
    return [log_dir / t.csv_name(day) for t in (*TABLES, GAPS)]


class Recorder:
    def __init__(self, cache: MarketCache, config: RecorderConfig, *,
                 now_ms: Callable[[], int] | None = None, sleep=asyncio.sleep):
        self.cache, self.cfg = cache, config
        self.now_ms = now_ms or cache.venue_now_ms
        self._sleep = sleep
        self.log_dir = Path(config.log_dir)
        self.files = FamilySet(self.log_dir, TABLES)
        self.gap_files = FamilySet(self.log_dir, (GAPS,))
        self.tracker = GapTracker(cache.symbols, config.stale_after_s)
        self.last_ts: dict[str, int] = {}
        self.state = "starting"
        self.started_wall = time.time()
        self.started_venue_ms = 0
        self.ticks = 0
        self.gaps_today = 0
        self.recent_gaps: list[dict] = []
        self._reconnects_seen = 0
        self._resumed: dict[str, int] = {}
        self._last_files: dict[str, dict] = {}
        self._stop = asyncio.Event()
        self._lock_fd: int | None = None
        self._rates: dict[str, tuple[float, int, float]] = {}   # kind -> (local s, count, rate)
        self.error: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def stop(self) -> None:
        self._stop.set()

    def _lock(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.log_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RecorderBusy(f"another recorder is writing into {self.log_dir}; stop it or use another "
                               "--log-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    async def _check_symbols(self) -> None:
        """Refuse symbols the venue does not list (their streams would stay silent forever)."""
        try:
            listed = await self.cache.client.symbol_rules()
        except ExchangeError as exc:
            log.warning("recorder.symbols_unchecked", f"symbols not checked against exchangeInfo ({exc})")
            return
        unknown = [s for s in self.cache.symbols if s not in listed]
        if unknown:
            raise UnknownSymbols(f"the venue does not list {', '.join(unknown)}")

    async def run(self) -> int:
        await self._check_symbols()
        self._lock()
        try:
            self._write_status()
            await self.cache.start()
            self.state = "seeding"
            self._write_status()
            await self._warm_up()
            self.started_venue_ms = self.now_ms()
            day = day_of(self.started_venue_ms)
            if self.cfg.delete_existing:
                for p in today_paths(self.log_dir, day):
                    if p.exists():
                        p.unlink()
                        log.info("recorder.deleted", f"deleted {p.name} (--delete-existing)", path=str(p))
            self._resume(day)
            self.state = "running"
            await self._loop()
            return 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("recorder.failed", f"recorder failed: {exc}")
            raise
        finally:
            await self._shutdown()

    async def _warm_up(self) -> None:
        deadline = time.monotonic() + WARMUP_S
        while time.monotonic() < deadline and not self._stop.is_set():
            ages = self.cache.staleness()
            if all(a[k] is not None for a in ages.values() for k in STREAM_KINDS if k != "aggTrade"):
                return
            await asyncio.sleep(0.05)

    def _resume(self, day: str) -> None:
        """Pick up where a previous run of today (or yesterday) stopped: repair torn tails, note the gap."""
        yesterday = (datetime.strptime(day, "%Y%m%d") - timedelta(days=1)).strftime("%Y%m%d")
        for d in (yesterday, day):
            for sym, ts in last_ts_by_symbol(self.log_dir / AGG_TRADE_1S.csv_name(d)).items():
                if sym in self.cache.symbols:
                    self.last_ts[sym] = max(ts, self.last_ts.get(sym, 0))
        self._resumed = dict(self.last_ts)
        self._open_day(day)

    def _open_day(self, day: str) -> None:
        now = self.now_ms()
        for opened in self.files.ensure_day(day) + self.gap_files.ensure_day(day):
            if opened.torn_bytes:
                self._gap(Gap("*", "torn_tail", opened.path.name.split("_")[0], now, now,
                              f"{opened.torn_bytes} bytes of a torn last line cut from {opened.path.name}"), now)
            if opened.set_aside is not None:
                log.error("recorder.foreign_file", f"{opened.path.name} had other columns; kept aside as "
                          f"{opened.set_aside.name}", path=str(opened.set_aside))

    async def _pause(self, delay_s: float, deadline: float | None) -> None:
        if deadline is not None:
            delay_s = min(delay_s, max(0.0, deadline - time.monotonic()))
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=max(0.001, delay_s))
        except TimeoutError:
            pass

    async def _loop(self) -> None:
        """At each venue second S: take the cache's state (no later event in it: no look-ahead), then, once
        trades of [S-1 s, S) have had SETTLE_MS to arrive, write the rows of S."""
        deadline = None if self.cfg.poll_time is None else time.monotonic() + self.cfg.poll_time
        last_status = 0.0
        while not self._stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                log.info("recorder.poll_time", f"--poll-time {self.cfg.poll_time:g}s reached; stopping")
                break
            if not self.cache.healthy():
                raise RuntimeError("a market connection's consumer stopped; the cache no longer follows the venue")
            now = self.now_ms()
            second = now // 1000 * 1000
            if second <= max(self.last_ts.values(), default=0) or (not self.ticks and now - second > SETTLE_MS):
                await self._pause((second + 1000 - now) / 1000.0, deadline)      # wait for the next boundary
                continue
            state = {sym: self.cache.snapshot(sym) for sym in self.cache.symbols}
            settle = second + SETTLE_MS - self.now_ms()
            if settle > 0:
                await self._pause(settle / 1000.0, None)
            self.tick(second, state)
            if time.monotonic() - last_status >= STATUS_EVERY_S:
                self._write_status()
                last_status = time.monotonic()

    def tick(self, ts: int, state: dict | None = None) -> None:
        """Write the rows of venue second `ts` for every symbol from `state` (snapshots taken at ts; default:
        the cache now) and the trades of [ts - 1 s, ts). Public for tests with a fake clock."""
        day = day_of(ts)
        if day != self.files.day:
            self.gaps_today = 0
            self._open_day(day)
        now = self.now_ms()
        for sym in self.cache.symbols:
            last = self.last_ts.get(sym)
            if last is not None and ts <= last:
                continue
            if last is not None:
                resumed = self._resumed.get(sym)
                kind = "recorder_down" if resumed is not None and last == resumed else "missing_seconds"
                gap = GapTracker.missing(sym, last, ts, kind)
                if gap is not None:
                    self._gap(gap, now)
            snap = state[sym] if state is not None else self.cache.snapshot(sym)
            lines = snapshot_lines(ts, snap, self.cache.trade_second(sym, ts - 1000))
            for table, line in lines.items():
                self.files.add(table, line)
            self.last_ts[sym] = ts
        for rc in self.cache.reconnects[self._reconnects_seen:]:
            for sym in rc.symbols:
                self._gap(Gap(sym, "reconnect", "*", rc.venue_ms, rc.venue_ms,
                              f"connection #{rc.connection}; streams re-seeded over REST"), now)
        self._reconnects_seen = len(self.cache.reconnects)
        for gap in self.tracker.check_stale(now, self.cache.staleness(), self.started_venue_ms or now):
            self._gap(gap, now)
        self.files.flush()
        self.gap_files.flush()
        self.ticks += 1

    def _gap(self, gap: Gap, now: int) -> None:
        if self.gap_files.day is None:
            self.gap_files.ensure_day(day_of(now))
        self.gap_files.add("gaps", gap.line(now))
        self.gaps_today += 1
        self.recent_gaps = (self.recent_gaps + [gap.as_dict()])[-20:]
        log.warning("recorder.gap", f"{gap.kind} {gap.symbol} {gap.stream}: {gap.seconds:g}s ({gap.detail})",
                    kind=gap.kind, symbol=gap.symbol, stream=gap.stream, seconds=gap.seconds)

    async def _shutdown(self) -> None:
        if self.state != "failed":
            self.state = "stopping"
        try:
            await self.cache.close()
        finally:
            if self.files.day is not None:
                now = self.now_ms()
                for gap in self.tracker.close_all(now):
                    self._gap(gap, now)
            self.files.flush()
            self.status()                    # keep the last file figures for the final status
            self.files.close()
            self.gap_files.close()
            if self.state != "failed":
                self.state = "stopped"
            self._write_status()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    # ------------------------------------------------------------------ status
    def _stream_rates(self) -> dict[str, dict]:
        now = time.monotonic()
        out = {}
        for kind in STREAM_KINDS:
            count = self.cache.counts[kind]
            prev = self._rates.get(kind)
            rate = prev[2] if prev else 0.0
            if prev and now - prev[0] >= 0.5:
                rate = (count - prev[1]) / (now - prev[0])
            if prev is None or now - prev[0] >= 0.5:
                self._rates[kind] = (now, count, rate)
            out[kind] = {"messages": count, "per_s": round(rate, 2)}
        return out

    def status(self) -> dict:
        now_ms = self.now_ms()
        ages = self.cache.staleness()
        files = {f.table.family: {"path": str(f.path), "rows_today": f.rows + len(f._buf), "bytes": f.size}
                 for f in self.files.files.values()} or self._last_files
        self._last_files = files
        last_age = {k: (min((a[k] for a in ages.values() if a[k] is not None), default=None)) for k in STREAM_KINDS}
        own = {"instance": self.cfg.instance, "kind": "recorder", "account": "", "positions": []} \
            if self.cfg.instance else {}
        return {
            **own, "name": self.cfg.name, "state": self.state, "pid": os.getpid(), "error": self.error,
            "symbols": self.cache.symbols, "log_dir": str(self.log_dir), "poll_time": self.cfg.poll_time,
            "started_at": datetime.fromtimestamp(self.started_wall, timezone.utc).isoformat(),
            "updated_at": datetime.now(timezone.utc).isoformat(), "updated_wall_ms": int(time.time() * 1000),
            "venue_time_ms": now_ms,
            "venue_time_utc": time_columns(now_ms)[0] if now_ms else None, "day": self.files.day,
            "seconds_written": self.ticks, "connections": len(self.cache.groups),
            "reconnects": len(self.cache.reconnects),
            "streams": {k: dict(v, last_message_age_s=last_age[k]) for k, v in self._stream_rates().items()},
            "last_message_age_s": ages, "files": files, "gaps_today": self.gaps_today,
            "recent_gaps": self.recent_gaps, "stale_now": self.tracker.stale_now(),
        }

    def _write_status(self) -> None:
        try:
            self.cfg.status_file.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.cfg.status_file, self.status())
        except OSError as exc:           # the status file is advisory; recording goes on
            log.warning("recorder.status_failed", f"status file not written: {exc}")
