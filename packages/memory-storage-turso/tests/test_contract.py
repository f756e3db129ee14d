"""memory-core's backend contract, run against a real libSQL file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from memory_core import MemoryConfig
from memory_core._protocols import StorageBackend
from memory_core.testing import StorageContract
from memory_core.testing.item_vectors_contract import ItemVectorsContract
from memory_core.testing.records_contract import RecordStoreContract


class TestLibSQLContract(StorageContract, RecordStoreContract, ItemVectorsContract):
    @pytest.fixture
    def storage(self, factory: object, tmp_path: Path) -> Iterator[StorageBackend]:
        backend = factory.from_url(f"file:{tmp_path / 'contract.db'}", MemoryConfig())  # type: ignore[attr-defined]
        yield backend
        backend.close()
