"""How values are written to columns: timestamps, ids, JSON documents.

Timestamps are fixed-width UTC ISO-8601 text (``2025-01-31T12:00:00.000000Z``), so that
text order is time order (indexes and cursors compare strings) and no value ever needs
a 64-bit integer parameter: the ``libsql`` binding sends Python ints above 2**31 as
REAL, which would silently lose precision in keys.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from memory_core import InvalidInputError


def ts(value: datetime) -> str:
    """Sortable UTC text for a datetime; a naive datetime is taken to be UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_cursor(started_at: str, episode_id: str) -> str:
    raw = json.dumps([started_at, episode_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The (started_at, id) a page ended at; ``InvalidInputError(field="cursor")`` if forged."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value: Any = json.loads(base64.urlsafe_b64decode(padded.encode()))
        started_at, episode_id = value
        if not isinstance(started_at, str) or not isinstance(episode_id, str):
            raise TypeError
        UUID(episode_id)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            "invalid cursor: pass back the next_cursor of a previous page", field="cursor"
        ) from exc
    return started_at, episode_id
