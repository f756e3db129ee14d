"""Coercion of the identifiers callers pass: UUIDs, enum values and tenant names.

One definition each, so every entry point (core loop, workflow, security) rejects a bad
id with the same message naming the field.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import TypeVar
from uuid import UUID

from memory_core._errors import InvalidInputError

E = TypeVar("E", bound=Enum)

_TENANT = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def as_uuid(value: UUID | str, field: str) -> UUID:
    """``value`` as a UUID, or an ``InvalidInputError`` naming ``field``."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidInputError(
            f"{field} is not a valid UUID: {str(value)[:64]!r}", field=field
        ) from None


def as_enum(kind: type[E], value: E | str, field: str) -> E:
    """``value`` as a member of ``kind``; the error lists the allowed values."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(x.value) for x in kind)
        raise InvalidInputError(
            f"{field} must be one of {allowed}; got {str(value)[:64]!r}", field=field
        ) from None


def check_tenant(tenant: str | None, default: str) -> str:
    """The tenant to act on: ``default`` when none is given, else a checked name."""
    if tenant is None:
        return default
    if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
        raise InvalidInputError(
            "tenant must be 1-128 letters, digits, '-', '_' or '.'", field="tenant", limit=128
        )
    return tenant
