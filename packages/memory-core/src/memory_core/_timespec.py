"""Points in time as people write them, for the ``since``/``until`` filters.

"What did I do last week" is the most common question to a memory, so the filters take
what a person or an agent would type, not only ISO timestamps. Every form names one
instant in UTC (a naive date or time is read as UTC):

- ISO 8601: ``2026-12-01`` (midnight starting that day), ``2026-12-01T14:30``,
  ``2026-12-01T14:30:00+01:00``, ``...Z``;
- relative, counted back from now: ``90m``, ``12h``, ``7d``, ``2w`` (also ``7 days``,
  ``3 weeks ago``);
- ``now``, ``today`` and ``yesterday`` (midnight starting the day), ``last week`` (7 days
  ago), ``last month`` (30 days ago).

So ``since="7d"`` means the last seven days and ``since="yesterday", until="today"``
means yesterday.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from memory_core._errors import InvalidInputError

__all__ = ["ACCEPTED_FORMS", "parse_instant"]

ACCEPTED_FORMS = (
    "an ISO date or time (2026-12-01, 2026-12-01T14:30Z), a span back from now "
    "(90m, 12h, 7d, 2w), or now, today, yesterday, last week, last month"
)

_UNITS = {
    "m": "minutes",
    "min": "minutes",
    "minute": "minutes",
    "minutes": "minutes",
    "h": "hours",
    "hour": "hours",
    "hours": "hours",
    "d": "days",
    "day": "days",
    "days": "days",
    "w": "weeks",
    "week": "weeks",
    "weeks": "weeks",
}
_SPAN = re.compile(r"(\d{1,6})\s*([a-z]+)(?:\s+ago)?")
_MAX_DAYS = 365 * 200


def parse_instant(value: object, field: str, now: datetime | None = None) -> datetime:
    """``value`` (datetime, date or one of the strings of the module docstring) as an
    aware UTC datetime.

    Raises:
        InvalidInputError: naming ``field`` and the accepted forms.
    """
    now = now or datetime.now(UTC)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    if not isinstance(value, str):
        raise InvalidInputError(
            f"{field} must be a date or time as text, not {type(value).__name__}; "
            f"accepted: {ACCEPTED_FORMS}",
            field=field,
        )
    text = " ".join(value.strip().lower().split())
    midnight = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    named = {
        "now": now,
        "today": midnight,
        "yesterday": midnight - timedelta(days=1),
        "last week": now - timedelta(days=7),
        "last month": now - timedelta(days=30),
    }
    if text in named:
        return named[text]
    span = _SPAN.fullmatch(text)
    if span and span.group(2) in _UNITS:
        delta = timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
        if delta > timedelta(days=_MAX_DAYS):
            raise InvalidInputError(
                f"{field} {value!r} reaches back more than {_MAX_DAYS} days", field=field
            )
        return now - delta
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise InvalidInputError(
            f"{field} {value[:40]!r} is not a point in time; accepted: {ACCEPTED_FORMS}",
            field=field,
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
