"""Durations ("26h", "1w2d") and schedules ("daily", OnCalendar) as timedeltas.

Freshness needs the expected period of a backup's schedule; systemd's OnCalendar grammar is big, so
we recognise the shapes homelabbers write and refuse the rest with a hint instead of guessing.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {
    "s": 1,
    "sec": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "hr": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 7 * 86400,
    "week": 7 * 86400,
    "weeks": 7 * 86400,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")

NAMED_SCHEDULES = {
    "minutely": timedelta(minutes=1),
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "nightly": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=31),
    "quarterly": timedelta(days=92),
    "yearly": timedelta(days=366),
    "annually": timedelta(days=366),
}


def parse_duration(text: str) -> timedelta:
    """'26h', '3d', '1w2d', '90m', '1d 12h' → timedelta; ValueError with the accepted units."""
    s = str(text).strip().lower()
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if s[pos : m.start()].strip() or m.group(2) not in _UNITS:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    else:
        if pos and not s[pos:].strip():
            return timedelta(seconds=total)
    raise ValueError(f'expected a duration such as "26h", "3d" or "1w2d", got "{text}"')


def format_duration(seconds: float) -> str:
    """A duration for people, as ages are shown everywhere: '1d 2h', '5h 12m', '40m', '45s'."""
    s = int(round(seconds))
    sign, s = ("-" if s < 0 else ""), abs(s)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes}m"
    return f"{sign}{minutes}m" if minutes else f"{sign}{rest}s"


_ONCAL_TIME = r"\d{1,2}:\d{2}(?::\d{2})?"


def schedule_period(schedule: str) -> timedelta:
    """The expected time between runs of a schedule: a name, 'every 6h', or a simple OnCalendar."""
    s = str(schedule).strip()
    low = s.lower()
    if low in NAMED_SCHEDULES:
        return NAMED_SCHEDULES[low]
    if low.startswith("every "):
        return parse_duration(low[6:])
    dow = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*(?:[.,-]+(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*)*\s+)?"
    m = re.fullmatch(
        dow
        + r"(\*-\*-\*|\*-\*-\d{1,2}|\*-\d{1,2}-\d{1,2})\s+("
        + _ONCAL_TIME
        + r"(?:,\s*"
        + _ONCAL_TIME
        + r")*)",
        low,
    )
    if m:
        date = m.group(1)
        times = len(m.group(2).split(","))
        has_dow = bool(re.match(r"(mon|tue|wed|thu|fri|sat|sun)", low))
        if date == "*-*-*":
            if has_dow:
                days = len(re.findall(r"mon|tue|wed|thu|fri|sat|sun", low.split()[0]))
                return timedelta(days=7 / max(days, 1))
            return timedelta(days=1) / times
        if date.startswith("*-*-"):
            return timedelta(days=31)
        return timedelta(days=366)
    m = re.fullmatch(r"\*-\*-\*\s+\*:(\d{1,2})(?::\d{2})?", low) or re.fullmatch(
        r"\*:(\d{1,2})", low
    )
    if m:
        return timedelta(hours=1)
    m = re.fullmatch(
        r"\*-\*-\*\s+\*/(\d+):\d{2}(?::\d{2})?|\*-\*-\*\s+0/(\d+):\d{2}(?::\d{2})?", low
    )
    if m:
        return timedelta(hours=int(m.group(1) or m.group(2)))
    raise ValueError(
        f'cannot tell the period of schedule "{schedule}"; use daily/hourly/weekly/monthly, '
        '"every 6h", a simple OnCalendar such as "*-*-* 02:00:00", or set max_age explicitly'
    )
