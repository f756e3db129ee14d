"""memory-storage-redb: the embedded hot cache tier of memory-core, on LMDB.

The design calls this tier "redb"; there is no usable redb for Python, so it runs on
LMDB, the memory-mapped copy-on-write B-tree with MVCC readers that redb is modelled on.
Registered as the ``lmdb`` plugin of the ``memory_core.cache`` entry-point group::

    from memory_storage_redb import LMDBCache

    cache = LMDBCache("./memory.db.cache", max_bytes=64 * 1024 * 1024)
    cache.put("episode", "default", str(episode_id), payload, version=3)
    cache.get("episode", "default", str(episode_id))
"""

from memory_storage_redb._cache import LMDBCache
from memory_storage_redb._version import __version__

__all__ = ["LMDBCache", "__version__"]

LMDBCache.__module__ = "memory_storage_redb"
