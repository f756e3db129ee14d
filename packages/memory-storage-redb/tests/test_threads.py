"""Caches on one directory in one process share an LMDB environment (LMDB forbids
opening it twice per process) and may be used from several threads while the map grows."""

from __future__ import annotations

import threading
from collections.abc import Callable

from memory_storage_redb import LMDBCache

MakeCache = Callable[..., LMDBCache]


def test_threads_on_two_instances_of_one_directory(make_cache: MakeCache) -> None:
    caches = [make_cache(initial_map_bytes=64 * 1024) for _ in range(2)]
    failures: list[BaseException] = []

    def work(cache: LMDBCache, tag: str) -> None:
        try:
            for i in range(300):
                cache.put("episode", "t", f"{tag}{i}", tag.encode() * 1_000, version=i)
                assert cache.get("episode", "t", f"{tag}{i}") == tag.encode() * 1_000
                if i % 50 == 0:
                    cache.invalidate_tenant("other")
        except BaseException as exc:  # reported to the main thread
            failures.append(exc)

    threads = [
        threading.Thread(target=work, args=(caches[i % 2], tag)) for i, tag in enumerate("abcd")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert caches[0].stats().entries == 1_200
    assert caches[0].errors == caches[1].errors == 0
    audit = caches[1].audit()
    assert audit["size_bytes"] == audit["counted_size_bytes"]
    assert caches[0].map_size > 64 * 1024
    caches[0].close()  # the other instance keeps the shared environment open
    assert caches[1].get("episode", "t", "a0") == b"a" * 1_000
