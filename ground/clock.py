"""Time, passed in: services ask a clock, so tests and the cycle can run on any date."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Clock:
    """The wall clock, read in the banks' timezone for dates and in UTC for timestamps."""

    tz: ZoneInfo = ZoneInfo("Asia/Shanghai")

    def now(self) -> datetime:
        """Return the current time in UTC."""
        return datetime.now(timezone.utc)

    def today(self) -> date:
        """Return today's date where the banks are."""
        return datetime.now(self.tz).date()


@dataclass(frozen=True)
class FixedClock(Clock):
    """A clock stopped at one moment (UTC), for tests and for replaying a period."""

    at: datetime = datetime(2026, 10, 15, 2, 0, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self.at

    def today(self) -> date:
        return self.at.astimezone(self.tz).date()
