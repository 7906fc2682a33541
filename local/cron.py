"""AWS schedule expressions: `cron(min hour day-of-month month day-of-week year)` and `rate(n unit)`.

Only what EventBridge accepts is parsed: `*`, `?`, lists, ranges, `a/n` and `*/n` steps, month and weekday
names (day-of-week 1-7 = SUN-SAT). `L`, `W` and `#` are rejected with a clear error rather than misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = {name: i + 1 for i, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])}
WEEKDAYS = {name: i + 1 for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


class ScheduleExpressionError(ValueError):
    pass


def _parse_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int] | None:
    """The allowed values of one field; None for `*` / `?` (anything)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()

    def number(token: str) -> int:
        token = token.upper()
        if names and token in names:
            return names[token]
        if not token.isdigit():
            raise ScheduleExpressionError(f"unsupported cron token {token!r}")
        value = int(token)
        if not low <= value <= high:
            raise ScheduleExpressionError(f"{value} is outside {low}-{high}")
        return value

    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleExpressionError(f"bad step {step_text!r}")
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = number(first), number(last)
        else:
            start = number(part)
            end = high if step > 1 else start
        if start > end:
            raise ScheduleExpressionError(f"range {start}-{end} is backwards")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int] | None
    hours: frozenset[int] | None
    days: frozenset[int] | None
    months: frozenset[int] | None
    weekdays: frozenset[int] | None  # 1 = Sunday
    years: frozenset[int] | None

    @classmethod
    def parse(cls, body: str) -> Cron:
        fields = body.split()
        if len(fields) != 6:
            raise ScheduleExpressionError(f"cron needs 6 fields, got {len(fields)}: {body!r}")
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ScheduleExpressionError("exactly one of day-of-month and day-of-week must be '?'")
        return cls(_parse_field(minute, 0, 59), _parse_field(hour, 0, 23), _parse_field(dom, 1, 31),
                   _parse_field(month, 1, 12, MONTHS), _parse_field(dow, 1, 7, WEEKDAYS),
                   _parse_field(year, 1970, 2199))

    def matches(self, moment: datetime) -> bool:
        weekday = (moment.isoweekday() % 7) + 1  # Monday=1..Sunday=7 -> Sunday=1..Saturday=7
        return all(allowed is None or value in allowed for allowed, value in (
            (self.minutes, moment.minute), (self.hours, moment.hour), (self.days, moment.day),
            (self.months, moment.month), (self.weekdays, weekday), (self.years, moment.year)))

    def next_after(self, moment: datetime) -> datetime | None:
        """The first matching minute strictly after `moment` (in moment's time zone), None past 2199."""
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while candidate.year <= 2199:
            if not self._day_matches(candidate):
                candidate = (candidate + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if self.hours is not None and candidate.hour not in self.hours:
                candidate = (candidate + timedelta(hours=1)).replace(minute=0)
                continue
            if self.minutes is not None and candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
                continue
            return candidate
        return None

    def _day_matches(self, moment: datetime) -> bool:
        weekday = (moment.isoweekday() % 7) + 1
        return all(allowed is None or value in allowed for allowed, value in (
            (self.days, moment.day), (self.months, moment.month), (self.weekdays, weekday),
            (self.years, moment.year)))


@dataclass(frozen=True)
class Schedule:
    """A parsed ScheduleExpression in a time zone."""

    expression: str
    timezone: ZoneInfo
    cron: Cron | None = None
    rate_seconds: int | None = None

    @classmethod
    def parse(cls, expression: str, timezone: str = "UTC") -> Schedule:
        zone = ZoneInfo(timezone or "UTC")
        text = expression.strip()
        if match := re.fullmatch(r"cron\((.+)\)", text):
            return cls(text, zone, cron=Cron.parse(match.group(1)))
        if match := re.fullmatch(r"rate\((\d+)\s+(\w+)\)", text):
            unit = match.group(2).lower()
            if unit not in RATE_UNITS or int(match.group(1)) < 1:
                raise ScheduleExpressionError(f"bad rate expression {text!r}")
            return cls(text, zone, rate_seconds=int(match.group(1)) * RATE_UNITS[unit])
        if re.fullmatch(r"at\(.+\)", text):
            raise ScheduleExpressionError("one-time at() schedules are not supported locally")
        raise ScheduleExpressionError(f"not a schedule expression: {text!r}")

    def next_after(self, moment: datetime) -> datetime | None:
        """The next fire time after `moment` (an aware datetime), returned in the schedule's zone."""
        local = moment.astimezone(self.timezone)
        if self.rate_seconds is not None:
            return local + timedelta(seconds=self.rate_seconds)
        assert self.cron is not None
        # Walk in naive wall-clock time of the zone (what cron means), then attach the zone back.
        naive = self.cron.next_after(local.replace(tzinfo=None))
        return naive.replace(tzinfo=self.timezone) if naive else None
