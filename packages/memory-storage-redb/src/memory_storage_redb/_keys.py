"""How a cache address ``(kind, tenant, key)`` becomes an LMDB key.

Layout: ``kind NUL tenant NUL key`` (UTF-8). Kind first, then tenant, so that "every
entry of a tenant" is one contiguous range per kind (bulk invalidation is a cursor walk,
not a scan), and "all retrieval results of a tenant" is a single range. A key that would
push the LMDB key past its 511-byte limit is replaced by ``#`` + its BLAKE2b-256 digest;
the prefix stays readable so the ranges above still hold.

Entries derived from an episode are indexed by its id, which is what makes
``invalidate_episode`` exact. The core's key convention (memory-core's cache contract):
``episode`` and ``summary`` entries are keyed ``str(episode_id)``; an episode's
``embedding`` entries ``f"{episode_id}:{rest}"``; other keys (query vectors, patterns,
retrieval results) belong to no episode.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final, get_args
from uuid import UUID

from memory_core import InvalidInputError
from memory_core.models import CacheKind

KINDS: Final[frozenset[str]] = frozenset(get_args(CacheKind))
EPISODE_DERIVED_KINDS: Final[frozenset[str]] = frozenset({"episode", "summary", "embedding"})
MAX_TENANT_CHARS: Final = 128
MAX_KEY_CHARS: Final = 16_384
#: LMDB's compiled-in key limit is 511 bytes; the LRU index adds 8 bytes of timestamp.
MAX_STORED_KEY_BYTES: Final = 400

SEP: Final = b"\x00"
_UUID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?=$|:)"
)


def tenant_bytes(tenant: str) -> bytes:
    """The validated UTF-8 tenant; ``InvalidInputError`` names the field and limit."""
    if not isinstance(tenant, str) or not tenant or len(tenant) > MAX_TENANT_CHARS:
        raise InvalidInputError(
            f"tenant must be 1-{MAX_TENANT_CHARS} characters",
            field="tenant",
            limit=MAX_TENANT_CHARS,
        )
    if "\x00" in tenant:
        raise InvalidInputError("tenant must not contain NUL", field="tenant")
    return tenant.encode()


def entry_key(kind: str, tenant: str, key: str) -> bytes:
    """The stored key for a cache address; raises ``InvalidInputError`` on bad input."""
    if kind not in KINDS:
        raise InvalidInputError(
            f"unknown cache kind {kind!r}; expected one of {sorted(KINDS)}", field="kind"
        )
    t = tenant_bytes(tenant)
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
        raise InvalidInputError(
            f"key must be 1-{MAX_KEY_CHARS} characters", field="key", limit=MAX_KEY_CHARS
        )
    raw = b"".join((kind.encode(), SEP, t, SEP, key.encode()))
    if len(raw) <= MAX_STORED_KEY_BYTES:
        return raw
    digest = hashlib.blake2b(key.encode(), digest_size=32).digest()
    return b"".join((kind.encode(), SEP, t, SEP, b"#", digest))


def range_prefix(kind: str, tenant: str) -> bytes:
    """Prefix shared by every stored key of one kind and tenant."""
    return b"".join((kind.encode(), SEP, tenant_bytes(tenant), SEP))


def tenant_of(stored_key: bytes) -> bytes:
    """The tenant part of a stored key."""
    return stored_key.split(SEP, 2)[1]


def episode_ids(kind: str, key: str) -> list[UUID]:
    """The episode an entry derives from (a leading UUID in its key), for the index."""
    if kind not in EPISODE_DERIVED_KINDS:
        return []
    match = _UUID_RE.match(key)
    if match is None or (kind != "embedding" and match.end() != len(key)):
        return []
    return [UUID(match.group(0))]


def episode_index_key(tenant: bytes, episode_id: UUID) -> bytes:
    """Key of the episode index (and of episode tombstones): ``tenant NUL uuid16``."""
    return tenant + SEP + episode_id.bytes
