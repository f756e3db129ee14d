"""Contract tests for the optional ``ItemVectors`` capability of a storage backend.

Subclass ``ItemVectorsContract`` (beside ``StorageContract``) when your backend reads
stored vectors back, and provide the same function-scoped ``storage`` fixture; a backend
without the capability leaves the class out, and retrieval then ranks without coverage.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memory_core._protocols import ItemVectors
from memory_core.testing.factories import make_embedding, make_episode, make_step, unit_vectors
from memory_core.testing.storage_contract import MODEL, OTHER_MODEL, T1, T2, _store


class ItemVectorsContract:
    """Every test gets a fresh ``storage`` from the subclass's fixture."""

    def test_is_declared_on_the_class(self, storage: Any) -> None:
        # retrieval looks the capability up on the class, not through ``__getattr__``
        assert callable(getattr(type(storage), "item_vectors", None))
        assert isinstance(storage, ItemVectors)

    def test_item_vectors_reads_back_unit_rows_in_key_order(self, storage: Any) -> None:
        read = type(storage).item_vectors
        ep, other = make_episode(tenant=T1), make_episode(tenant=T2)
        _store(storage, ep, [make_step(1), make_step(2)])
        _store(storage, other, [make_step(1)])
        a, b = unit_vectors(2, 8, seed=21)
        storage.put_embeddings(T1, [make_embedding(ep.id, 2, MODEL, a * 2.0)])
        storage.put_embeddings(T1, [make_embedding(ep.id, 1, MODEL, b)])
        storage.put_embeddings(T2, [make_embedding(other.id, 1, MODEL, a)])
        rows = read(storage, T1, MODEL, [(ep.id, 1), (ep.id, 3), (other.id, 1), (ep.id, 2)])
        np.testing.assert_allclose(rows, [b, np.zeros(8), np.zeros(8), a], atol=1e-5)
        assert read(storage, T1, OTHER_MODEL, [(ep.id, 1)]).shape == (1, 0)
