"""Read-path models built without their generic constructors equal the constructed ones."""

from __future__ import annotations

import dataclasses
from uuid import uuid4

import pytest
from memory_core.models import SearchHit
from memory_storage_turso._raw_models import search_hits


def test_search_hits_are_the_constructors() -> None:
    rows = [(uuid4(), 0, 1.5, ("a", "b")), (uuid4(), 3, -0.25, ())]
    built = search_hits(rows)
    assert built == [SearchHit(*r) for r in rows]
    assert [hash(h) for h in built] == [hash(SearchHit(*r)) for r in rows]
    with pytest.raises(dataclasses.FrozenInstanceError):
        built[0].score = 2.0  # type: ignore[misc]
