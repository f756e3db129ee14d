"""The contract every ``CacheBackend`` must pass, run against its real engine.

A plugin subclasses ``CacheContract`` and provides a function-scoped ``cache`` fixture
that yields a fresh, empty cache. Time is injected, never slept through: cache
implementations should accept ``clock: Callable[[], float] | None`` (seconds, like
``time.time``) in their constructor, and the fixture passes the suite's ``clock``::

    class TestMyCache(CacheContract):
        @pytest.fixture
        def cache(self, tmp_path, clock):
            c = MyCache(tmp_path / "cache", clock=clock)
            yield c
            c.close()

A backend that cannot take a clock overrides ``test_ttl_expiry`` (and says why).

Key conventions the core follows and ``invalidate_episode`` relies on:

* ``episode`` and ``summary`` entries are keyed by ``str(episode_id)``;
* ``embedding`` entries of an episode are keyed ``f"{episode_id}:{rest}"`` (e.g.
  ``"<uuid>:<item>:<model>"``); other ``embedding`` keys (query vectors) are not tied to
  an episode;
* ``invalidate_episode`` drops those, plus every ``retrieval`` entry of the tenant, and
  leaves ``pattern`` entries and other episodes' entries alone.
"""

from __future__ import annotations

import uuid

import pytest

from memory_core._models import CacheKind, CacheStats
from memory_core._protocols import CacheBackend
from memory_core.testing.factories import FakeClock

__all__ = ["CacheContract"]

T1 = "tenant-one"
T2 = "tenant-two"
KINDS: tuple[CacheKind, ...] = ("episode", "summary", "pattern", "embedding", "retrieval")


class CacheContract:
    """Tests every ``CacheBackend`` must pass. Subclass and provide ``cache``."""

    @pytest.fixture
    def clock(self) -> FakeClock:
        """The time source the ``cache`` fixture should hand to the cache."""
        return FakeClock()

    @pytest.fixture
    def cache(self, clock: FakeClock) -> CacheBackend:
        raise NotImplementedError("subclass CacheContract and provide a `cache` fixture")

    def test_is_a_cache_backend(self, cache: CacheBackend) -> None:
        assert isinstance(cache, CacheBackend)
        assert isinstance(type(cache).name, str) and type(cache).name

    def test_get_put_delete(self, cache: CacheBackend) -> None:
        for kind in KINDS:
            assert cache.get(kind, T1, "k") is None
            cache.put(kind, T1, "k", f"value-{kind}".encode())
        for kind in KINDS:
            assert cache.get(kind, T1, "k") == f"value-{kind}".encode()
        cache.delete("summary", T1, "k")
        assert cache.get("summary", T1, "k") is None
        assert cache.get("episode", T1, "k") == b"value-episode"
        cache.delete("summary", T1, "k")  # deleting what is gone is fine
        cache.delete("summary", T1, "never-there")

    def test_values_are_opaque_bytes(self, cache: CacheBackend) -> None:
        values = {
            "empty": b"",
            "nul": b"\x00\x01\x02\xff" * 3,
            "big": bytes(range(256)) * 400,  # 100 KiB
            "ünï:code/key with spaces": "ünïcode ✓".encode(),
        }
        for key, value in values.items():
            cache.put("episode", T1, key, value)
        for key, value in values.items():
            assert cache.get("episode", T1, key) == value

    def test_put_replaces(self, cache: CacheBackend) -> None:
        cache.put("pattern", T1, "p", b"one")
        cache.put("pattern", T1, "p", b"two")
        assert cache.get("pattern", T1, "p") == b"two"

    def test_older_version_is_ignored(self, cache: CacheBackend) -> None:
        cache.put("episode", T1, "e", b"v3", version=3)
        cache.put("episode", T1, "e", b"v2", version=2)
        assert cache.get("episode", T1, "e") == b"v3"
        cache.put("episode", T1, "e", b"v3-again", version=3)  # same version: accepted
        assert cache.get("episode", T1, "e") == b"v3-again"
        cache.put("episode", T1, "e", b"v4", version=4)
        assert cache.get("episode", T1, "e") == b"v4"
        cache.put("episode", T1, "e", b"unversioned")  # version 0 is older than 4
        assert cache.get("episode", T1, "e") == b"v4"
        cache.delete("episode", T1, "e")
        cache.put("episode", T1, "e", b"v1", version=1)  # nothing stored: accepted
        assert cache.get("episode", T1, "e") == b"v1"

    def test_versions_are_per_key(self, cache: CacheBackend) -> None:
        cache.put("episode", T1, "a", b"a9", version=9)
        cache.put("episode", T1, "b", b"b1", version=1)
        cache.put("summary", T1, "a", b"s1", version=1)
        cache.put("episode", T2, "a", b"t2", version=1)
        assert cache.get("episode", T1, "b") == b"b1"
        assert cache.get("summary", T1, "a") == b"s1"
        assert cache.get("episode", T2, "a") == b"t2"

    def test_ttl_expiry(self, cache: CacheBackend, clock: FakeClock) -> None:
        cache.put("retrieval", T1, "q", b"ranked", version=2, ttl_seconds=30)
        cache.put("retrieval", T1, "forever", b"kept")
        clock.advance(29)
        assert cache.get("retrieval", T1, "q") == b"ranked"
        clock.advance(2)
        assert cache.get("retrieval", T1, "q") is None
        assert cache.get("retrieval", T1, "forever") == b"kept"
        # an expired entry is gone: it does not block a put, even of an older version
        cache.put("retrieval", T1, "q", b"fresh", version=1, ttl_seconds=30)
        assert cache.get("retrieval", T1, "q") == b"fresh"

    def test_invalidate_episode(self, cache: CacheBackend) -> None:
        eid, other = uuid.uuid4(), uuid.uuid4()
        for tenant in (T1, T2):
            for e in (eid, other):
                cache.put("episode", tenant, str(e), b"full")
                cache.put("summary", tenant, str(e), b"summary")
                cache.put("embedding", tenant, f"{e}:0:model", b"vec0")
                cache.put("embedding", tenant, f"{e}:3:model", b"vec3")
            cache.put("retrieval", tenant, "query-1", b"r1")
            cache.put("retrieval", tenant, "query-2", b"r2")
            cache.put("pattern", tenant, "p", b"pattern")
            cache.put("embedding", tenant, "query:abc", b"qvec")
        cache.invalidate_episode(T1, eid)
        assert cache.get("episode", T1, str(eid)) is None
        assert cache.get("summary", T1, str(eid)) is None
        assert cache.get("embedding", T1, f"{eid}:0:model") is None
        assert cache.get("embedding", T1, f"{eid}:3:model") is None
        assert cache.get("retrieval", T1, "query-1") is None
        assert cache.get("retrieval", T1, "query-2") is None
        # untouched: other episodes, patterns, query vectors, and the other tenant
        assert cache.get("episode", T1, str(other)) == b"full"
        assert cache.get("summary", T1, str(other)) == b"summary"
        assert cache.get("embedding", T1, f"{other}:0:model") == b"vec0"
        assert cache.get("pattern", T1, "p") == b"pattern"
        assert cache.get("embedding", T1, "query:abc") == b"qvec"
        for e in (eid, other):
            assert cache.get("episode", T2, str(e)) == b"full"
            assert cache.get("embedding", T2, f"{e}:3:model") == b"vec3"
        assert cache.get("retrieval", T2, "query-1") == b"r1"

    def test_invalidate_tenant(self, cache: CacheBackend) -> None:
        for tenant in (T1, T2):
            for kind in KINDS:
                cache.put(kind, tenant, "k", tenant.encode())
        cache.invalidate_tenant(T1)
        for kind in KINDS:
            assert cache.get(kind, T1, "k") is None
            assert cache.get(kind, T2, "k") == T2.encode()
        cache.invalidate_tenant("tenant-unknown")

    def test_tenant_prefix_is_not_a_tenant(self, cache: CacheBackend) -> None:
        # "t" must not match "t1": tenants are compared whole, not as key prefixes
        cache.put("summary", "t", "k", b"short")
        cache.put("summary", "t1", "k", b"long")
        cache.invalidate_tenant("t")
        assert cache.get("summary", "t1", "k") == b"long"
        assert cache.get("summary", "t", "k") is None

    def test_tenants_are_isolated(self, cache: CacheBackend) -> None:
        cache.put("episode", T1, "same", b"one")
        cache.put("episode", T2, "same", b"two")
        assert cache.get("episode", T1, "same") == b"one"
        assert cache.get("episode", T2, "same") == b"two"
        cache.delete("episode", T1, "same")
        assert cache.get("episode", T2, "same") == b"two"

    def test_clear(self, cache: CacheBackend) -> None:
        for tenant in (T1, T2):
            for kind in KINDS:
                cache.put(kind, tenant, "k", b"x", version=5)
        cache.clear()
        for tenant in (T1, T2):
            for kind in KINDS:
                assert cache.get(kind, tenant, "k") is None
        cache.put("episode", T1, "k", b"after", version=1)  # versions were cleared too
        assert cache.get("episode", T1, "k") == b"after"
        assert cache.stats().entries == 1

    def test_stats_count_hits_and_misses(self, cache: CacheBackend) -> None:
        start = cache.stats()
        assert isinstance(start, CacheStats)
        cache.get("episode", T1, "absent")
        cache.put("episode", T1, "a", b"x")
        cache.put("episode", T1, "b", b"yy")
        cache.put("summary", T2, "a", b"z")
        cache.get("episode", T1, "a")
        cache.get("episode", T1, "a")
        cache.get("summary", T1, "a")  # another tenant's entry: a miss
        s = cache.stats()
        assert (s.hits - start.hits, s.misses - start.misses) == (2, 2)
        assert s.entries == 3
        assert s.size_bytes >= 4
        assert 0.0 < s.hit_rate < 1.0
