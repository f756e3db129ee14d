"""Per-tenant databases: the whole storage contract holds through the router, tenants
land in separate backends, and idle shards close."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from memory_core import (
    EpisodeFilter,
    InvalidInputError,
    MemoryConfig,
    SelfLearningMemory,
    TaskOutcome,
)
from memory_core.storage import InMemoryStorage
from memory_core.storage.sharded import ShardedStorage
from memory_core.testing import StorageContract
from memory_core.testing.item_vectors_contract import ItemVectorsContract
from memory_core.testing.records_contract import RecordStoreContract


class TestShardedContract(StorageContract, ItemVectorsContract):
    @pytest.fixture
    def storage(self) -> Iterator[ShardedStorage]:
        backend = ShardedStorage("memory:{tenant}", lambda url: InMemoryStorage.from_url(url))
        yield backend
        backend.close()


def test_tenants_get_their_own_backend_and_idle_ones_close() -> None:
    now = [0.0]
    opened: dict[str, InMemoryStorage] = {}

    def open_shard(url: str) -> InMemoryStorage:
        opened[url] = InMemoryStorage.from_url(url)
        return opened[url]

    sharded = ShardedStorage("memory:{tenant}", open_shard, idle_seconds=10, clock=lambda: now[0])
    memory = SelfLearningMemory(storage=sharded, embedder=None)
    a = memory.start_episode("alpha task", tenant="acme")
    memory.complete_episode(a, TaskOutcome.success(), tenant="acme")
    memory.start_episode("beta task", tenant="globex")
    assert set(opened) == {"memory:acme", "memory:globex"}
    assert opened["memory:acme"].count_episodes("acme", EpisodeFilter()) == 1
    assert opened["memory:globex"].count_episodes("acme", EpisodeFilter()) == 0
    assert memory.retrieve_relevant_context("alpha", tenant="globex") == []
    assert memory.retrieve_relevant_context("alpha", tenant="acme")
    now[0] = 100.0
    memory.count_episodes(tenant="globex")
    assert sharded.open_tenants == ["globex"]


def test_template_needs_tenant_and_tenant_names_are_safe() -> None:
    with pytest.raises(InvalidInputError):
        ShardedStorage("memory:", lambda url: InMemoryStorage.from_url(url))
    memory = SelfLearningMemory(
        config=MemoryConfig(database_url="memory:{tenant}", cache_backend="none"), embedder=None
    )
    assert isinstance(memory.storage, ShardedStorage)
    with pytest.raises(InvalidInputError) as err:
        memory.start_episode("x", tenant="../../etc/passwd")
    assert err.value.field == "tenant"


class TestShardedRecords(RecordStoreContract):
    @pytest.fixture
    def storage(self) -> Iterator[ShardedStorage]:
        backend = ShardedStorage("memory:{tenant}", lambda url: InMemoryStorage.from_url(url))
        yield backend
        backend.close()
