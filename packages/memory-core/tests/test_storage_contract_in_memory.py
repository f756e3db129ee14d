"""The storage contract, run on the in-memory backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from memory_core.storage import InMemoryStorage
from memory_core.testing import StorageContract
from memory_core.testing.item_vectors_contract import ItemVectorsContract
from memory_core.testing.records_contract import RecordStoreContract


class TestInMemoryStorage(StorageContract, ItemVectorsContract):
    @pytest.fixture
    def storage(self) -> Iterator[InMemoryStorage]:
        backend = InMemoryStorage.from_url("memory:")
        yield backend
        backend.close()


class TestInMemoryRecords(RecordStoreContract):
    @pytest.fixture
    def storage(self) -> Iterator[InMemoryStorage]:
        backend = InMemoryStorage.from_url("memory:")
        yield backend
        backend.close()
