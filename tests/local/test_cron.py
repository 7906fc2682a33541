"""AWS schedule expressions: six-field cron with ?, lists, ranges, steps, names; rate(); time zones."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from local.cron import Cron, Schedule, ScheduleExpressionError


def at(text: str, zone: str = "UTC") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize(("expression", "after", "expected"), [
    ("cron(0 0,12 * * ? *)", "2026-11-26T03:01:00", "2026-11-26T12:00:00"),
    ("cron(0 0,12 * * ? *)", "2026-11-26T12:00:00", "2026-11-27T00:00:00"),  # strictly after
    ("cron(0 0,12 * * ? *)", "2026-12-31T23:59:30", "2027-01-01T00:00:00"),
    ("cron(*/15 * * * ? *)", "2026-11-26T03:01:00", "2026-11-26T03:15:00"),
    ("cron(5/20 9-10 * * ? *)", "2026-11-26T09:46:00", "2026-11-26T10:05:00"),
    ("cron(0 8 ? * MON-FRI *)", "2026-11-27T09:00:00", "2026-11-30T08:00:00"),  # Friday → Monday
    ("cron(0 8 ? * 1 *)", "2026-11-26T00:00:00", "2026-11-29T08:00:00"),  # 1 = Sunday
    ("cron(30 6 15 1 ? 2027)", "2026-11-26T00:00:00", "2027-01-15T06:30:00"),
    ("cron(0 0 29 FEB ? *)", "2026-03-01T00:00:00", "2028-02-29T00:00:00"),
    ("cron(0 12 1,15 JAN,JUL ? 2026-2027)", "2026-07-15T12:00:00", "2027-01-01T12:00:00"),
])
def test_next_fire_time(expression: str, after: str, expected: str) -> None:
    assert Schedule.parse(expression).next_after(at(after)) == at(expected)


def test_time_zone_is_applied() -> None:
    schedule = Schedule.parse("cron(0 9 * * ? *)", "Asia/Ho_Chi_Minh")  # UTC+7
    assert schedule.next_after(datetime(2026, 11, 26, 3, 0, tzinfo=UTC)) == at("2026-11-27T09:00:00",
                                                                              "Asia/Ho_Chi_Minh")
    upcoming = schedule.next_after(datetime(2026, 11, 26, 1, 0, tzinfo=UTC))
    assert upcoming is not None and upcoming.astimezone(UTC) == datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def test_rate() -> None:
    assert Schedule.parse("rate(5 minutes)").next_after(at("2026-11-26T03:00:00")) == at("2026-11-26T03:05:00")
    assert Schedule.parse("rate(1 day)").rate_seconds == 86400


def test_matches() -> None:
    cron = Cron.parse("0 0,12 * * ? *")
    assert cron.matches(datetime(2026, 11, 26, 12, 0))
    assert not cron.matches(datetime(2026, 11, 26, 12, 1))


@pytest.mark.parametrize("bad", [
    "cron(0 0 * * * *)",  # neither day field is ?
    "cron(0 0 ? * ? *)",  # both are
    "cron(0 0 * *)",  # five fields
    "cron(61 0 * * ? *)",
    "cron(0 0 L * ? *)",  # L/W/# are not supported: refused, not misread
    "cron(0 0 ? * 6#3 *)",
    "cron(0 */0 * * ? *)",
    "rate(0 minutes)",
    "every day",
])
def test_invalid_expressions_are_refused(bad: str) -> None:
    with pytest.raises(ScheduleExpressionError):
        Schedule.parse(bad)
