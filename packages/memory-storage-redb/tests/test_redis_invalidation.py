"""Cross-instance invalidation over a real Redis (``memory_test_utils.RedisServer``).

Two instances with separate cache directories share one Redis: an invalidation through
one removes the entry from the other; with Redis down nothing fails, and when Redis is
back the subscriber clears its local cache (it may have missed messages)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from memory_core import MemoryConfig
from memory_core._plugins import CACHE_GROUP, load_plugin
from memory_storage_redb import LMDBCache
from memory_storage_redb.redis_invalidation import CoherentCache
from memory_test_utils import RedisServer

T = "acme"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    srv = RedisServer(tmp_path)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def pair(tmp_path: Path, server: RedisServer) -> Iterator[tuple[CoherentCache, CoherentCache]]:
    caches = [CoherentCache(LMDBCache(tmp_path / name), server.url) for name in ("a", "b")]
    for cache in caches:
        assert cache.bus.wait_for(resyncs=1)
    yield caches[0], caches[1]
    for cache in caches:
        cache.close()


def test_invalidations_reach_the_other_instance(pair: tuple[CoherentCache, CoherentCache]) -> None:
    a, b = pair
    eid = uuid.uuid4()
    for cache in (a, b):
        cache.put("episode", T, str(eid), b"full", version=1)
        cache.put("embedding", T, f"{eid}:0:m", b"vec", version=1)
        cache.put("pattern", T, "p1", b"pattern")
        cache.put("summary", "other", "s", b"summary")
    a.invalidate_episode(T, eid)
    assert b.bus.wait_for(applied=1)
    assert b.get("episode", T, str(eid)) is None
    assert b.get("embedding", T, f"{eid}:0:m") is None
    a.delete("pattern", T, "p1")
    assert b.bus.wait_for(applied=2)
    assert b.get("pattern", T, "p1") is None
    b.invalidate_tenant("other")
    assert a.bus.wait_for(applied=1)
    assert a.get("summary", "other", "s") is None
    assert a.bus.applied == 1  # its own messages are not applied twice


def test_redis_outage_never_fails_and_resyncs_on_return(
    pair: tuple[CoherentCache, CoherentCache], server: RedisServer
) -> None:
    a, b = pair
    a.put("episode", T, "e", b"v1")
    b.put("episode", T, "e", b"v1")
    server.stop()
    a.delete("episode", T, "e")  # Redis is down: applied locally, publish fails quietly
    assert a.get("episode", T, "e") is None
    assert a.bus.publish_failures == 1
    assert b.get("episode", T, "e") == b"v1"  # b missed it...
    server.start()
    assert b.bus.wait_for(resyncs=2)  # ...so on reconnecting it starts over
    assert b.get("episode", T, "e") is None


def test_from_config_wraps_only_with_redis_url(tmp_path: Path, server: RedisServer) -> None:
    factory = load_plugin(CACHE_GROUP, "lmdb-redis")
    plain = factory.from_config(
        MemoryConfig(database_url="memory:", cache_path=str(tmp_path / "p"))
    )
    assert isinstance(plain, LMDBCache)
    plain.close()
    config = MemoryConfig(
        database_url="memory:", cache_path=str(tmp_path / "c"), redis_url=server.url
    )
    coherent = factory.from_config(config)
    assert isinstance(coherent, CoherentCache)
    coherent.close()


def test_malformed_messages_are_ignored(
    pair: tuple[CoherentCache, CoherentCache], server: RedisServer
) -> None:
    import redis

    a, b = pair
    b.put("pattern", T, "p", b"kept")
    with redis.Redis.from_url(server.url) as client:
        client.publish("memory:cache:invalidate", b"not json")
        client.publish("memory:cache:invalidate", b'{"v": 1, "op": "explode"}')
    a.delete("pattern", T, "p")
    assert b.bus.wait_for(applied=1)
    assert b.get("pattern", T, "p") is None
    assert b.bus.applied == 1
