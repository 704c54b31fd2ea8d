"""What `as_of` means: a date is the end of that day (its rows are history)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

__all__ = ["Cutoff", "cutoff"]


@dataclass(frozen=True)
class Cutoff:
    """The point in time of a snapshot: rows with ``ts <= end`` are history."""

    end: pd.Timestamp  # inclusive, microsecond precision
    day: dt.date  # the calendar day of `end`; day counts (recency, T) are measured from it

    def sql_end(self) -> str:
        return f"TIMESTAMP '{self.end.strftime('%Y-%m-%d %H:%M:%S.%f')}'"

    def sql_day(self) -> str:
        return f"DATE '{self.day.isoformat()}'"

    def plus_days(self, days: int) -> Cutoff:
        return Cutoff(self.end + pd.Timedelta(days=days), self.day + dt.timedelta(days=days))


def cutoff(as_of: str | dt.date | pd.Timestamp) -> Cutoff:
    """A date (or midnight timestamp) means the end of that day; a timestamp means itself."""
    t = pd.Timestamp(as_of)
    if t.tzinfo is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    if t == t.normalize():
        t = t + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return Cutoff(t, t.date())
