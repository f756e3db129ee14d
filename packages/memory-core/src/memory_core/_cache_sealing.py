"""Cache values sealed under a per-tenant key that a delete destroys (crypto-shredding).

Why: the cache tiers (LMDB above all) are copy-on-write files. Deleting an entry frees
its page but leaves the bytes in it until the page is reused, so a deleted episode's
text could be read back from the cache file long after ``delete_episode`` returned.
Every value is therefore sealed (AES-256-GCM) under the tenant's current cache key,
kept in storage as a record (``kind = "cache_key"``). Deleting an episode replaces that
key: the old one leaves storage (which deletes physically, see ``_deletion``) and with
it every value ever sealed under it becomes noise, wherever its bytes still lie.
Storage without records (or a failing one) gets a key that lives in this process only.

Other processes notice a new key when the tenant's write generation moves (a delete
bumps it), the same bound as the cache's own staleness (``cache_coherence_seconds``).
Cost: one AES-GCM pass per cache get/put (~1 µs per KiB) and, after a delete, a cold
cache for the tenant.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from memory_core.security._errors import DecryptionError

__all__ = ["CACHE_KEY_KIND", "CacheSealer"]

log = logging.getLogger("memory_core.cache")

CACHE_KEY_KIND = "cache_key"
_RECORD_ID = "current"


class CacheSealer:
    """Seals and opens cache payloads with the tenant's current cache key.

    Args:
        storage: returns the storage backend (a ``RecordStore`` keeps keys shared by
            processes; otherwise keys are process-local).
        generation: the tenant's write generation (a change makes the key be re-read).

        lock: serialises storage calls with the memory's own (its ``RLock``).
    """

    def __init__(
        self,
        storage: Callable[[], Any],
        generation: Callable[[str], int],
        lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        self._storage = storage
        self._generation = generation
        self._keys: dict[str, tuple[int, bytes]] = {}
        self._lock: AbstractContextManager[Any] = lock or threading.RLock()

    def seal(self, tenant: str, payload: bytes) -> bytes:
        from memory_core.security._crypto import seal  # cryptography: imported on first use

        return seal(self._key(tenant), payload, tenant.encode())

    def open(self, tenant: str, blob: bytes) -> bytes | None:
        """The payload, or ``None`` when it was sealed under a shredded (or foreign) key."""
        from memory_core.security._crypto import open_sealed

        try:
            return open_sealed(self._key(tenant), blob, tenant.encode())
        except DecryptionError:
            return None

    def shred(self, tenant: str) -> None:
        """Replace the tenant's key: every value sealed before is unreadable from now on."""
        key = _new_key()
        with self._lock:
            self._keys.pop(tenant, None)
            store = self._records()
            if store is not None:
                try:
                    store.delete_record(tenant, CACHE_KEY_KIND, _RECORD_ID)
                    store.put_record(tenant, CACHE_KEY_KIND, _RECORD_ID, {"key": _b64e(key)})
                except Exception:
                    log.warning("could not store a new cache key", exc_info=True)
                    return
            self._keys[tenant] = (self._generation(tenant), key)

    def _key(self, tenant: str) -> bytes:
        generation = self._generation(tenant)
        with self._lock:
            known = self._keys.get(tenant)
            if known is not None and known[0] == generation:
                return known[1]
            key = self._load(tenant) or (known[1] if known else None) or self._create(tenant)
            self._keys[tenant] = (generation, key)
            return key

    def _load(self, tenant: str) -> bytes | None:
        store = self._records()
        if store is None:
            return None
        try:
            data = store.get_record(tenant, CACHE_KEY_KIND, _RECORD_ID)
        except Exception:
            log.debug("cache key read failed", exc_info=True)
            return None
        if not data or not isinstance(data.get("key"), str):
            return None
        return _b64d(data["key"])

    def _create(self, tenant: str) -> bytes:
        key = _new_key()
        store = self._records()
        if store is not None:
            try:
                store.put_record(tenant, CACHE_KEY_KIND, _RECORD_ID, {"key": _b64e(key)})
            except Exception:
                log.debug("cache key write failed; using a process-local key", exc_info=True)
        return key

    def _records(self) -> Any:
        from memory_core._protocols import RecordStore

        storage = self._storage()
        return storage if isinstance(storage, RecordStore) else None


def _new_key() -> bytes:
    return os.urandom(32)  # AES-256


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _b64d(text: str) -> bytes | None:
    try:
        key = base64.urlsafe_b64decode(text)
    except ValueError:
        return None
    return key if len(key) == 32 else None
