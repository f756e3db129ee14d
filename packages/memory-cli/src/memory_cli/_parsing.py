"""Parsing option values: times (absolute or relative), KEY=VALUE pairs, JSON objects.

Each parser raises ``InvalidInputError`` naming the option, so a bad value exits with
code 2 and a message like ``--since: expected ...``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from memory_core import InvalidInputError

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str | None, option: str, *, now: datetime | None = None) -> datetime | None:
    """ISO 8601 (``2025-01-31``, ``2025-01-31T12:00``) or an age (``30m``, ``24h``, ``7d``).

    A time without a zone is taken as UTC.
    """
    if value is None:
        return None
    match = _RELATIVE.match(value)
    if match:
        amount, unit = float(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInputError(
            f"{option}: expected an ISO date/time (2025-01-31T12:00) or an age like 30m, 24h, 7d;"
            f" got {value!r}",
            field=option,
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_uuid(value: str, option: str) -> UUID:
    try:
        return UUID(value.strip())
    except ValueError:
        raise InvalidInputError(f"{option}: not a UUID: {value!r}", field=option) from None


def parse_pairs(pairs: Iterable[str], option: str) -> dict[str, Any]:
    """``KEY=VALUE`` items; a VALUE that parses as JSON is kept typed (``n=3`` is 3)."""
    out: dict[str, Any] = {}
    for item in pairs:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"{option}: expected KEY=VALUE, got {item!r}", field=option)
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


def parse_json_object(value: str | None, option: str) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise InvalidInputError(f"{option}: invalid JSON: {exc}", field=option) from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{option}: expected a JSON object", field=option)
    return data
