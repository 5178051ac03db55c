"""The production schedule of issue 21 (seed 002's deploy/gce timers), in one table.

Two runners read it: the systemd timers `mraster deploy systemd` writes (`on_calendar`) and the
dashboard's own scheduler when there is no systemd (`next_after`). One table, so the two cannot
disagree about when a job runs. Times are UTC. Pure: no clock is read here; callers pass `now`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Calendar:
    """Every day at hour:minute UTC, or once a week on `weekday` (0 = Monday) at that time."""

    hour: int
    minute: int
    weekday: int | None = None

    def __post_init__(self) -> None:
        if not (0 <= self.hour < 24 and 0 <= self.minute < 60):
            raise ValueError(f"bad time of day {self.hour}:{self.minute}")
        if self.weekday is not None and not 0 <= self.weekday < 7:
            raise ValueError(f"bad weekday {self.weekday}")

    def on_calendar(self) -> str:
        """systemd's OnCalendar= expression, e.g. `Sun *-*-* 00:20:00 UTC`."""
        day = f"{DAYS[self.weekday]} " if self.weekday is not None else ""
        return f"{day}*-*-* {self.hour:02d}:{self.minute:02d}:00 UTC"

    def describe(self) -> str:
        day = f"{DAYS[self.weekday]} " if self.weekday is not None else "daily "
        return f"{day}{self.hour:02d}:{self.minute:02d} UTC"

    def next_after(self, now: datetime) -> datetime:
        """The first run strictly after `now` (an aware datetime; the result is in UTC)."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        now = now.astimezone(timezone.utc)
        at = now.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        if self.weekday is not None:
            at += timedelta(days=(self.weekday - now.weekday()) % 7)
            if at <= now:
                at += timedelta(days=7)
        elif at <= now:
            at += timedelta(days=1)
        return at


@dataclass(frozen=True)
class Job:
    """One scheduled job: its name (also the systemd unit suffix) and the `mraster` arguments it runs."""

    name: str
    calendar: Calendar
    args: tuple[str, ...]
    description: str


# The daily stop runs the batch without restarting the engines: trading resumes at 00:00 (the restart
# job), as in seed 002, so nothing trades across the day boundary while the day's files are loaded.
JOBS: tuple[Job, ...] = (
    Job("daily-batch", Calendar(23, 55), ("ops", "daily-batch", "--no-restart"),
        "stop the engines, load the day's recorder files into the store, verify, clean up old files"),
    Job("daily-restart", Calendar(0, 0), ("ops", "engines", "start"),
        "start the engines again for the new UTC day"),
    Job("weekly-backtest", Calendar(0, 20, weekday=6), ("ops", "weekly-backtest"),
        "feature build and parameter sweep over the last 28 days ending yesterday, ranked"),
    Job("daily-report", Calendar(0, 35), ("ops", "report", "--mode", "prod", "--send"),
        "production report of the UTC day that just ended, by email"),
)

JOBS_BY_NAME: dict[str, Job] = {job.name: job for job in JOBS}
