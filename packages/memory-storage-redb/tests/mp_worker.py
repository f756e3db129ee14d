"""A separate process using a shared cache directory (run by test_multiprocess.py).

    python mp_worker.py writer PATH KEYS VERSIONS TAG
    python mp_worker.py reader PATH KEYS VERSIONS

Values are self-describing (``key|version|padding``) so a reader can tell a torn or
mixed-up value from a correct one. Prints one JSON line with what it saw.
"""

from __future__ import annotations

import json
import random
import sys

from memory_storage_redb import LMDBCache

KiB = 1024
MiB = 1024 * KiB
PAD = 1_500
MAX_READS = 2_000_000  # a hang guard, not a timing


def value(key: str, version: int) -> bytes:
    head = f"{key}|{version}|".encode()
    return head + bytes([version % 251]) * PAD


def check(key: str, raw: bytes) -> int:
    k, v, pad = raw.split(b"|", 2)
    version = int(v)
    if k.decode() != key or pad != bytes([version % 251]) * PAD:
        raise SystemExit(f"torn or foreign value for {key}: {raw[:60]!r}")
    return version


def open_cache(path: str) -> LMDBCache:
    # a tiny initial map: the writer grows it while the readers read
    return LMDBCache(path, max_bytes=64 * MiB, initial_map_bytes=64 * KiB, max_map_bytes=256 * MiB)


def writer(path: str, keys: int, versions: int, tag: str) -> None:
    cache = open_cache(path)
    for version in range(1, versions + 1):
        for i in range(keys):
            key = f"{tag}{i}"
            cache.put("episode", "t", key, value(key, version), version=version)
    cache.put("pattern", "t", f"done-{tag}", b"1")
    print(json.dumps({"map_size": cache.map_size, "errors": cache.errors}), flush=True)
    cache.close()


def reader(path: str, keys: int, versions: int) -> None:
    cache = open_cache(path)
    print("ready", flush=True)
    rng = random.Random()
    seen: dict[str, int] = {}
    reads = hits = regressions = 0
    while reads < MAX_READS:
        reads += 1
        key = f"w{rng.randrange(keys)}"
        raw = cache.get("episode", "t", key)
        if raw is not None:
            hits += 1
            version = check(key, raw)
            if version < seen.get(key, 0):
                regressions += 1
            seen[key] = version
        if reads % 64 == 0 and cache.get("pattern", "t", "done-w") is not None:
            break
    final = [cache.get("episode", "t", f"w{i}") for i in range(keys)]
    complete = all(
        raw is not None and check(f"w{i}", raw) == versions for i, raw in enumerate(final)
    )
    report = {
        "reads": reads,
        "hits": hits,
        "regressions": regressions,
        "complete": complete,
        "map_size": cache.map_size,
        "errors": cache.errors,
    }
    print(json.dumps(report), flush=True)
    cache.close()


if __name__ == "__main__":
    mode, path, keys, versions = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if mode == "writer":
        writer(path, keys, versions, sys.argv[5])
    else:
        reader(path, keys, versions)
