"""The stored value: a fixed header, the episode ids it derives from, then the payload.

Header (little-endian, 28 bytes)::

    u8  layout      this package's record layout (bumped if the header changes)
    u8  n_ids       how many 16-byte episode ids follow the header
    u16 schema      memory_core.SCHEMA_VERSION of the payload; others are dropped on read
    i64 version     the source row's version; a put of an older one is ignored
    f64 stored_at   clock() when written
    f64 expires_at  clock() deadline, 0.0 for never

The episode ids live in the record (not only in the index) so that removing an entry,
for whatever reason, can also remove its index rows without re-parsing the key.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final
from uuid import UUID

LAYOUT: Final = 1
_HEADER: Final = struct.Struct("<BBHqdd")
HEADER_SIZE: Final = _HEADER.size
unpack_header: Final = _HEADER.unpack_from


@dataclass(frozen=True, slots=True)
class Header:
    layout: int
    n_ids: int
    schema: int
    version: int
    stored_at: float
    expires_at: float

    def episode_ids(self, record: bytes | memoryview) -> list[UUID]:
        return [
            UUID(bytes=bytes(record[HEADER_SIZE + 16 * i : HEADER_SIZE + 16 * (i + 1)]))
            for i in range(self.n_ids)
        ]

    @property
    def payload_offset(self) -> int:
        return HEADER_SIZE + 16 * self.n_ids


def pack(
    payload: bytes,
    *,
    schema: int,
    version: int,
    stored_at: float,
    expires_at: float,
    ids: list[UUID],
) -> bytes:
    head = _HEADER.pack(LAYOUT, len(ids), schema, version, stored_at, expires_at)
    return b"".join((head, *(i.bytes for i in ids), payload))


def parse(record: bytes | memoryview) -> Header:
    """The header of a stored record; ``ValueError`` if it is not one of ours."""
    if len(record) < HEADER_SIZE:
        raise ValueError("record shorter than its header")
    header = Header(*unpack_header(record, 0))
    if header.layout != LAYOUT or len(record) < header.payload_offset:
        raise ValueError("unknown record layout")
    return header
