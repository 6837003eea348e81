"""argparse `type=` validators: a malformed option value is a one-line usage error (exit 2).

Each returns the parsed value or raises `argparse.ArgumentTypeError` whose text says what was
expected, so `homelab-kit run --parallel 0` answers
`homelab-kit run: argument --parallel: expected a whole number ≥ 1, got "0"`.
"""

from __future__ import annotations

import argparse
import difflib
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from ..errors import HomelabError


def _bad(expected: str, text: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f'expected {expected}, got "{text}"')


def int_at_least(minimum: int) -> Callable[[str], int]:
    """A whole number ≥ minimum (e.g. --parallel, --limit)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise _bad(f"a whole number ≥ {minimum}", text) from None
        if value < minimum:
            raise _bad(f"a whole number ≥ {minimum}", text)
        return value

    parse.__name__ = "whole number"  # argparse names the type in its own messages
    return parse


positive_int = int_at_least(1)


def keep_count(text: str) -> int:
    """restic's --keep-* counts: 0 or more, or -1 for unlimited."""
    try:
        value = int(text.strip())
    except ValueError:
        raise _bad("a count ≥ 0, or -1 for unlimited", text) from None
    if value < -1:
        raise _bad("a count ≥ 0, or -1 for unlimited", text)
    return value


def seconds(text: str) -> float:
    """A positive number of seconds (timeouts)."""
    try:
        value = float(text.strip())
    except ValueError:
        raise _bad("a number of seconds > 0, e.g. 30 or 2.5", text) from None
    if not math.isfinite(value) or value <= 0:
        raise _bad("a number of seconds > 0, e.g. 30 or 2.5", text)
    return value


def nonneg_seconds(text: str) -> float:
    """0 or more seconds (0 = do not wait/retry)."""
    try:
        value = float(text.strip())
    except ValueError:
        raise _bad("a number of seconds ≥ 0, e.g. 60", text) from None
    if not math.isfinite(value) or value < 0:
        raise _bad("a number of seconds ≥ 0, e.g. 60", text)
    return value


def fraction(text: str) -> float:
    """A share between 0 and 1 (0.5 = half); "50%" is accepted too."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise _bad('a fraction between 0 and 1, e.g. 0.5 or "50%"', text) from None
    if not 0 < value <= 1:
        raise _bad('a fraction between 0 and 1, e.g. 0.5 or "50%"', text)
    return value


def duration(text: str) -> timedelta:
    """A positive duration such as "26h", "3d", "1w2d" (timespec.parse_duration)."""
    from ..lab.timespec import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= timedelta(0):
        raise _bad('a duration > 0 such as "26h", "3d" or "1w2d"', text)
    return value


def max_fail(text: str) -> int | str:
    """A host count (0 or more) or a percentage 0–100% (deploy --max-fail)."""
    raw = text.strip()
    expected = 'a host count ≥ 0 or a percentage such as "25%"'
    if raw.endswith("%"):
        try:
            pct = float(raw[:-1])
        except ValueError:
            raise _bad(expected, text) from None
        if not 0 <= pct <= 100:
            raise _bad("a percentage between 0% and 100%", text)
        return raw
    try:
        value = int(raw)
    except ValueError:
        raise _bad(expected, text) from None
    if value < 0:
        raise _bad(expected, text)
    return value


def one_of(choices: Sequence[str], what: str = "value") -> Callable[[str], str]:
    """One of `choices`, with a "did you mean" for a typo."""

    def parse(text: str) -> str:
        if text in choices:
            return text
        hint = difflib.get_close_matches(text, list(choices), n=1)
        extra = f' (did you mean "{hint[0]}"?)' if hint else ""
        raise argparse.ArgumentTypeError(
            f'unknown {what} "{text}"{extra}; choose one of {", ".join(choices)}'
        )

    parse.__name__ = what
    return parse


__all__ = [
    "duration",
    "fraction",
    "int_at_least",
    "keep_count",
    "max_fail",
    "nonneg_seconds",
    "one_of",
    "positive_int",
    "seconds",
]


def now_option(text: str | None) -> datetime:
    """`--now ISO` for reproducible reports; now (UTC) when not given. Naive times are UTC."""
    if not text:
        return datetime.now(UTC)
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise HomelabError(
            f'--now: expected an ISO time such as "2025-01-31T12:00:00+00:00", got "{text}"'
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)
