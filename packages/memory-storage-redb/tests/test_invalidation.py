"""After delete / invalidate_episode / invalidate_tenant, no read returns the old value,
not even after a reopen or a late put from a reader that fetched it before."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from memory_core.testing.factories import FakeClock
from memory_storage_redb import LMDBCache

MakeCache = Callable[..., LMDBCache]

T = "acme"


def fill_episode(cache: LMDBCache, episode_id: uuid.UUID, version: int, tenant: str = T) -> None:
    put = cache.put
    put("episode", tenant, str(episode_id), b"full", version=version)
    put("summary", tenant, str(episode_id), b"summary", version=version)
    put("embedding", tenant, f"{episode_id}:0:local:minilm", b"vector", version=version)
    put("embedding", tenant, f"{episode_id}:2:local:minilm", b"vector2", version=version)


def derived(cache: LMDBCache, episode_id: uuid.UUID, tenant: str = T) -> list[bytes | None]:
    get = cache.get
    return [
        get("episode", tenant, str(episode_id)),
        get("summary", tenant, str(episode_id)),
        get("embedding", tenant, f"{episode_id}:0:local:minilm"),
        get("embedding", tenant, f"{episode_id}:2:local:minilm"),
    ]


def test_erased_episode_is_gone_after_reopen(make_cache: MakeCache) -> None:
    cache = make_cache()
    eid = uuid.uuid4()
    fill_episode(cache, eid, version=3)
    cache.put("retrieval", T, "query", b"ranked")
    cache.invalidate_episode(T, eid)
    cache.close()
    reopened = make_cache()
    assert derived(reopened, eid) == [None] * 4
    assert reopened.get("retrieval", T, "query") is None
    assert reopened.stats().entries == 0
    assert reopened.stats().size_bytes == 0


def test_late_put_of_an_erased_episode_is_rejected(make_cache: MakeCache, clock: FakeClock) -> None:
    cache = make_cache(tombstone_ttl_seconds=60)
    eid = uuid.uuid4()
    fill_episode(cache, eid, version=3)
    cache.invalidate_episode(T, eid)
    # a reader that fetched version 3 before the erasure now tries to fill the cache
    fill_episode(cache, eid, version=3)
    assert derived(cache, eid) == [None] * 4
    assert cache.stale_puts == 4
    # a genuinely newer version (re-created / updated) is accepted
    cache.put("episode", T, str(eid), b"v4", version=4)
    assert cache.get("episode", T, str(eid)) == b"v4"
    # other tenants are not affected by the tombstone
    fill_episode(cache, eid, version=1, tenant="other")
    assert derived(cache, eid, tenant="other")[0] == b"full"


def test_tombstone_expires(make_cache: MakeCache, clock: FakeClock) -> None:
    cache = make_cache(tombstone_ttl_seconds=60)
    eid = uuid.uuid4()
    fill_episode(cache, eid, version=2)
    cache.invalidate_episode(T, eid)
    clock.advance(61)
    fill_episode(cache, eid, version=2)
    assert derived(cache, eid)[0] == b"full"


def test_invalidate_episode_is_exact(make_cache: MakeCache) -> None:
    cache = make_cache()
    ids = [uuid.uuid4() for _ in range(50)]
    for i, eid in enumerate(ids):
        fill_episode(cache, eid, version=i)
    cache.put("pattern", T, str(ids[0]), b"a pattern keyed by an uuid is not derived")
    cache.put("embedding", T, f"query:{ids[0]}", b"a query vector is not derived")
    before = cache.stats()
    cache.invalidate_episode(T, ids[7])
    after = cache.stats()
    assert derived(cache, ids[7]) == [None] * 4
    assert before.entries - after.entries == 4
    assert before.size_bytes > after.size_bytes > 0
    for eid in ids[:7] + ids[8:]:
        assert None not in derived(cache, eid)
    assert cache.get("pattern", T, str(ids[0])) is not None
    assert cache.get("embedding", T, f"query:{ids[0]}") is not None


def test_invalidate_tenant_then_refill(make_cache: MakeCache) -> None:
    cache = make_cache()
    eids = [uuid.uuid4() for _ in range(20)]
    for eid in eids:
        fill_episode(cache, eid, version=1)
        fill_episode(cache, eid, version=1, tenant="other")
    cache.invalidate_tenant(T)
    for eid in eids:
        assert derived(cache, eid) == [None] * 4
        assert None not in derived(cache, eid, tenant="other")
    assert cache.stats().entries == 4 * len(eids)
    # the index rows went too: invalidating an episode of T again finds nothing to drop
    cache.invalidate_episode(T, eids[0])
    fill_episode(cache, eids[0], version=1)  # no tombstone: nothing was dropped
    assert derived(cache, eids[0])[0] == b"full"


def test_invalidation_reaches_other_instances_on_the_same_directory(
    make_cache: MakeCache,
) -> None:
    writer, reader = make_cache(), make_cache()
    eid = uuid.uuid4()
    fill_episode(writer, eid, version=1)
    assert reader.get("episode", T, str(eid)) == b"full"
    writer.invalidate_episode(T, eid)
    assert reader.get("episode", T, str(eid)) is None


def test_long_keys_are_hashed_and_still_invalidated(make_cache: MakeCache) -> None:
    cache = make_cache()
    long_query = "how do I " + "really " * 200 + "deploy"
    cache.put("retrieval", T, long_query, b"ranked")
    cache.put("retrieval", T, long_query + "!", b"other")
    assert cache.get("retrieval", T, long_query) == b"ranked"
    assert cache.get("retrieval", T, long_query + "!") == b"other"
    eid = uuid.uuid4()
    cache.put("embedding", T, f"{eid}:" + "m" * 600, b"vec")
    cache.invalidate_episode(T, eid)
    assert cache.get("retrieval", T, long_query) is None
    assert cache.get("embedding", T, f"{eid}:" + "m" * 600) is None
