"""Helpers shared by the workflow features: record access, ids, paging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from memory_core._errors import ConfigurationError, InvalidInputError
from memory_core._protocols import RecordStore, StorageBackend

PAGE = 500
"""Records read per ``list_records`` call when a feature scans a kind."""


def records(storage: StorageBackend) -> RecordStore:
    """The backend as a ``RecordStore``, or a clear error naming the backend."""
    if not isinstance(storage, RecordStore):
        name = getattr(storage, "name", type(storage).__name__)
        raise ConfigurationError(
            f"the {name!r} storage backend does not store records (RecordStore); tags, "
            "relationships, checkpoints and feedback need a backend that does",
            key="storage_backend",
        )
    return storage


def as_uuid(value: UUID | str, field: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidInputError(
            f"{field} is not a valid UUID: {str(value)[:64]!r}", field=field
        ) from None


def scan(
    store: RecordStore, tenant: str, kind: str, *, episode_id: UUID | None = None
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Every record of a kind (optionally naming an episode), in insertion order."""
    after = 0
    while True:
        rows = store.list_records(tenant, kind, episode_id=episode_id, limit=PAGE, after_seq=after)
        yield from rows
        if len(rows) < PAGE:
            return
        after = rows[-1][0]


def check_range(value: int, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(
            f"{field} must be an integer between {low} and {high}; got {value!r}",
            field=field,
            limit=high,
        )
    return value


def clip(text: str, chars: int) -> str:
    """One line, at most ``chars`` characters (an ellipsis marks the cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"
