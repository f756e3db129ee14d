"""``LMDBCache``: memory-core's hot cache tier on an LMDB environment.

Named databases in one environment (see ``_env``)::

    entries     kind NUL tenant NUL key  -> header + episode ids + payload   (``_record``)
    atime       stored key               -> u64 big-endian µs of the last recorded access
    lru         u64 µs + stored key      -> b""   (oldest first: the eviction order)
    episodes    tenant NUL uuid16        -> stored key, dupsort (exact invalidate_episode)
    tombstones  tenant NUL uuid16        -> i64 version, f64 expires_at (after invalidation)
    meta        b"bytes"                 -> i64 accounted size of every entry

Eviction is LRU with batched promotion. A hit never writes: it only notes the key in a
process-local buffer, and only if its recorded access is older than
``promote_after_seconds``. The buffer is written (atime + lru rows) inside the next write
transaction, or in one transaction of its own when it holds ``touch_batch`` keys or is
older than ``promote_after_seconds``. So a hot key costs one small write per promotion
window instead of one write per read, and the LRU order is exact up to that window.

Why this module is longer than ~400 lines: every write keeps five databases consistent
in one LMDB transaction (the entry, its atime and lru rows, the episode index, the
tombstones, the size accounting), and eviction and invalidation run inside those same
transactions; the engine-level concerns already live apart (``_env``: opening, repair,
map growth; ``_record``: the entry layout; ``_keys``: key encoding).
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final
from uuid import UUID

import lmdb
from memory_core import ConfigurationError, InvalidInputError
from memory_core.errors import CacheError
from memory_core.models import SCHEMA_VERSION, CacheStats

from memory_storage_redb import _env, _keys, _record

if TYPE_CHECKING:
    from memory_core import MemoryConfig
    from memory_core.models import CacheKind

logger = logging.getLogger("memory_storage_redb")

MiB: Final = 1024 * 1024
_TICK = struct.Struct(">Q")
_I64 = struct.Struct("<q")
_TOMB = struct.Struct("<qd")
_I64_MAX: Final = 2**63 - 1
_BYTES_KEY: Final = b"bytes"
_TOMB_GC_THRESHOLD: Final = 512
_TOMB_GC_BATCH: Final = 128


def _tick(t: float) -> bytes:
    return _TICK.pack(max(0, int(t * 1_000_000)))


def _charge(stored_key: bytes, record_len: int, n_ids: int) -> int:
    """Accounted bytes of one entry: record, key, and its atime/lru/episode index rows."""
    tenant_len = len(_keys.tenant_of(stored_key))
    return record_len + 3 * len(stored_key) + 16 + n_ids * (tenant_len + 17 + len(stored_key))


class LMDBCache:
    """The hot cache tier (``CacheBackend``) on LMDB: embedded, multi-process, bounded.

    Args:
        path: cache directory (created if missing); several processes may share it.
        max_bytes: bound on the accounted size of all entries (records + key rows).
        max_entries: bound on the number of entries.
        ttl: default time-to-live per kind in seconds (``None``: no expiry); a put's own
            ``ttl_seconds`` wins.
        clock: wall-clock seconds (``time.time``); tests inject a fake one. Shared by
            processes, so it must be wall time, not monotonic.
        max_map_bytes: the LMDB map (the file) grows up to this; default
            ``2 * max_bytes + 32 MiB`` (pages are never full; freed pages are reused).
        initial_map_bytes: map size of a new cache.
        promote_after_seconds: LRU resolution; a hit re-records its access only after this.
        touch_batch: buffered promotions that force a write of their own.
        tombstone_ttl_seconds: how long ``invalidate_episode`` rejects late puts of the
            versions it dropped.
        verify_max_bytes: run the offline verifier at open for files up to this size.
    """

    name: ClassVar[str] = "lmdb"

    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int = 256 * MiB,
        max_entries: int = 200_000,
        ttl: Mapping[CacheKind, float | None] | None = None,
        clock: Callable[[], float] | None = None,
        max_map_bytes: int | None = None,
        initial_map_bytes: int = 8 * MiB,
        promote_after_seconds: float = 1.0,
        touch_batch: int = 256,
        tombstone_ttl_seconds: float = 60.0,
        verify_max_bytes: int = 64 * MiB,
    ) -> None:
        if max_bytes < 64 * 1024:
            raise ConfigurationError("max_bytes must be at least 65536", key="max_bytes")
        if max_entries < 1:
            raise ConfigurationError("max_entries must be at least 1", key="max_entries")
        if promote_after_seconds < 0 or touch_batch < 1 or tombstone_ttl_seconds < 0:
            raise ConfigurationError(
                "promote_after_seconds and tombstone_ttl_seconds must be >= 0, touch_batch >= 1",
                key="promote_after_seconds",
            )
        for kind, seconds in (ttl or {}).items():
            if kind not in _keys.KINDS:
                raise ConfigurationError(f"unknown cache kind {kind!r} in ttl", key="ttl")
            if seconds is not None and not seconds >= 0:
                raise ConfigurationError(f"ttl for {kind} must be >= 0", key=f"ttl.{kind}")
        if clock is None:
            import time

            clock = time.time
        self._clock = clock
        self._max_bytes = max_bytes
        self._max_entries = max_entries
        self._ttl: dict[str, float | None] = {str(k): v for k, v in (ttl or {}).items()}
        self._promote_after = promote_after_seconds
        self._promote_after_us = int(promote_after_seconds * 1_000_000)
        self._touch_batch = touch_batch
        self._tombstone_ttl = tombstone_ttl_seconds
        max_map = max_map_bytes if max_map_bytes is not None else 2 * max_bytes + 32 * MiB
        if max_map < 1 * MiB:
            raise ConfigurationError("max_map_bytes must be at least 1 MiB", key="max_map_bytes")
        self._env = _env.acquire(
            Path(path),
            initial_map_bytes=initial_map_bytes,
            max_map_bytes=max_map,
            verify_max_bytes=verify_max_bytes,
        )
        self._lock = self._env.lock
        self._db = self._env.dbs
        self._entries = self._db[b"entries"]
        self._atime = self._db[b"atime"]
        self._closed = False
        self._disabled = False
        self._pending_touch: dict[bytes, float] = {}
        self._pending_since = 0.0
        self._pending_drop: set[bytes] = set()
        self._tomb_gc_pos = b""
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        #: Engine failures swallowed by ``get``/``put`` (a failing cache is a miss).
        self.errors = 0
        #: Puts ignored because a newer version or a tombstone was stored.
        self.stale_puts = 0

    @classmethod
    def from_config(cls, config: MemoryConfig) -> LMDBCache:
        """Build from ``cache_path`` (``config.resolved_cache_path()``) and the bounds."""
        return cls(
            config.resolved_cache_path(),
            max_bytes=config.cache_max_bytes,
            max_entries=config.cache_max_entries,
            ttl={"retrieval": config.retrieval_cache_ttl_seconds},
        )

    # -- properties ------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self._env.path

    @property
    def map_size(self) -> int:
        """Current LMDB map size in bytes (grows up to ``max_map_bytes``)."""
        with self._lock:
            return self._env.map_size()

    @property
    def moved_aside(self) -> list[Path]:
        """Where unreadable cache files found at open were moved."""
        return list(self._env.moved_aside)

    # -- reads -----------------------------------------------------------------------
    def get(self, kind: CacheKind, tenant: str, key: str) -> bytes | None:
        """The cached payload, or ``None`` (absent, expired, other schema, or a failure)."""
        k = _keys.entry_key(kind, tenant, key)
        with self._lock:
            if self._closed or self._disabled:
                self.misses += 1
                return None
            try:
                payload = self._get_locked(k)
            except lmdb.Error as exc:
                self._failed("get", exc)
                payload = None
            if payload is None:
                self.misses += 1
            else:
                self.hits += 1
            return payload

    def _get_locked(self, k: bytes) -> bytes | None:
        self._env.check_intact()
        txn = self._env.begin_read()
        try:
            raw = txn.get(k, db=self._entries)
            if raw is None:
                return None
            now = self._clock()
            if len(raw) < _record.HEADER_SIZE:
                self._pending_drop.add(k)
                return None
            layout, n_ids, schema, _version, _stored, expires = _record.unpack_header(raw, 0)
            if layout != _record.LAYOUT or schema != SCHEMA_VERSION or (expires and now >= expires):
                self._pending_drop.add(k)
                return None
            payload = bytes(raw[_record.HEADER_SIZE + 16 * n_ids :])
            at = txn.get(k, db=self._atime)
            promote = at is None or int(now * 1_000_000) - _TICK.unpack(at)[0] >= (
                self._promote_after_us
            )
        finally:
            txn.abort()
        if promote:
            if not self._pending_touch:
                self._pending_since = now
            self._pending_touch[k] = now
        if self._pending_touch and (
            len(self._pending_touch) >= self._touch_batch
            or now - self._pending_since >= self._promote_after
        ):
            self._flush_locked()
        return payload

    def _flush_locked(self) -> None:
        """Write buffered promotions and drops in a transaction of their own."""
        try:
            self._env.write(lambda txn: self._apply_pending(txn, self._clock()))
        except lmdb.Error as exc:
            self._failed("flush", exc)
            return
        self._pending_touch.clear()
        self._pending_drop.clear()

    # -- writes ----------------------------------------------------------------------
    def put(
        self,
        kind: CacheKind,
        tenant: str,
        key: str,
        value: bytes,
        *,
        version: int = 0,
        ttl_seconds: float | None = None,
    ) -> None:
        """Store ``value`` unless a newer version (or a deletion tombstone) is stored."""
        k = _keys.entry_key(kind, tenant, key)
        if not isinstance(value, bytes | bytearray | memoryview):
            raise InvalidInputError("value must be bytes", field="value")
        if (
            isinstance(version, bool)
            or not isinstance(version, int)
            or not (-_I64_MAX <= version < _I64_MAX)
        ):
            raise InvalidInputError(
                "version must be a 64-bit signed integer", field="version", limit=_I64_MAX - 1
            )
        if ttl_seconds is None:
            ttl_seconds = self._ttl.get(kind)
        elif not (ttl_seconds >= 0 and math.isfinite(ttl_seconds)):
            raise InvalidInputError("ttl_seconds must be a finite number >= 0", field="ttl_seconds")
        if ttl_seconds == 0:
            return  # expires on arrival
        ids = _keys.episode_ids(kind, key)
        with self._lock:
            if self._closed or self._disabled:
                return
            now = self._clock()
            expires = now + ttl_seconds if ttl_seconds is not None else 0.0
            record = _record.pack(
                bytes(value),
                schema=SCHEMA_VERSION,
                version=version,
                stored_at=now,
                expires_at=expires,
                ids=ids,
            )
            charge = _charge(k, len(record), len(ids))
            if charge > self._max_bytes // 4:
                logger.debug("cache value of %d bytes is over a quarter of max_bytes", charge)
                return
            try:
                self._put_locked(k, record, version, ids, charge, now)
            except lmdb.Error as exc:
                self._failed("put", exc)

    def _put_locked(
        self, k: bytes, record: bytes, version: int, ids: list[UUID], charge: int, now: float
    ) -> None:
        def txn_fn(txn: Any) -> tuple[bool, int]:
            self._apply_pending(txn, now)
            if self._rejected(txn, k, version, ids, now):
                return False, 0
            size = self._size(txn)
            old = txn.get(k, db=self._entries)
            if old is not None:
                try:
                    header = _record.parse(old)
                    if header.schema == SCHEMA_VERSION and header.version > version:
                        return False, 0
                except ValueError:
                    pass
                size -= self._remove(txn, k, old)
            txn.put(k, record, db=self._entries)
            tick = _tick(now)
            txn.put(k, tick, db=self._atime)
            txn.put(tick + k, b"", db=self._db[b"lru"])
            tenant = _keys.tenant_of(k)
            for episode_id in ids:
                txn.put(_keys.episode_index_key(tenant, episode_id), k, db=self._db[b"episodes"])
            size += charge
            size, evicted = self._evict(txn, size, self._max_bytes, protect=k)
            txn.put(_BYTES_KEY, _I64.pack(size), db=self._db[b"meta"])
            return True, evicted

        for attempt in range(3):
            try:
                stored, evicted = self._env.write(txn_fn)
                break
            except lmdb.MapFullError:
                # At the map's maximum (page overhead, pages pinned by readers): evict a
                # quarter of what is stored, then try again. LMDB reuses freed pages only
                # a transaction or two later, hence more than one round.
                if attempt == 2:
                    raise
                self._evict_fraction(0.75)
        self._pending_touch.clear()
        self._pending_drop.clear()
        self.evictions += evicted
        if not stored:
            self.stale_puts += 1

    def delete(self, kind: CacheKind, tenant: str, key: str) -> None:
        """Remove one entry (and its stored version: a later put of any version is taken)."""
        k = _keys.entry_key(kind, tenant, key)

        def txn_fn(txn: Any) -> None:
            old = txn.get(k, db=self._entries)
            if old is not None:
                self._adjust_size(txn, -self._remove(txn, k, old))

        self._invalidate("delete", txn_fn)

    def invalidate_episode(self, tenant: str, episode_id: UUID) -> None:
        """Drop the episode's full record, summary and embeddings (via the episode index)
        and every retrieval result of the tenant.

        A tombstone then rejects, for ``tombstone_ttl_seconds``, puts for this episode of
        versions up to the newest one dropped, so a reader that fetched the episode just
        before an erasure cannot put it back; a newer version is accepted.
        """
        if not isinstance(episode_id, UUID):
            raise InvalidInputError("episode_id must be a UUID", field="episode_id")
        retrieval = _keys.range_prefix("retrieval", tenant)
        index_key = _keys.episode_index_key(_keys.tenant_bytes(tenant), episode_id)

        def txn_fn(txn: Any) -> None:
            freed = 0
            newest: int | None = None
            episodes = self._db[b"episodes"]
            cur = txn.cursor(db=episodes)
            derived = list(cur.iternext_dup()) if cur.set_key(index_key) else []
            for k in derived:
                old = txn.get(k, db=self._entries)
                if old is None:
                    continue
                try:
                    version = _record.parse(old).version
                except ValueError:
                    version = _I64_MAX - 1
                newest = version if newest is None else max(newest, version)
                freed += self._remove(txn, k, old)
            txn.delete(index_key, db=episodes)
            freed += self._remove_range(txn, retrieval)
            self._adjust_size(txn, -freed)
            if newest is not None:
                self._put_tombstone(txn, index_key, newest, self._clock())

        self._invalidate("invalidate_episode", txn_fn)

    def invalidate_tenant(self, tenant: str) -> None:
        """Drop every entry of the tenant (one key range per kind)."""
        prefixes = [_keys.range_prefix(kind, tenant) for kind in sorted(_keys.KINDS)]

        def txn_fn(txn: Any) -> None:
            freed = sum(self._remove_range(txn, prefix) for prefix in prefixes)
            self._adjust_size(txn, -freed)

        self._invalidate("invalidate_tenant", txn_fn)

    def clear(self) -> None:
        """Drop every entry of every tenant (tombstones too)."""

        def txn_fn(txn: Any) -> None:
            for db in self._db.values():
                txn.drop(db, delete=False)

        self._invalidate("clear", txn_fn)

    def _invalidate(self, op: str, txn_fn: Callable[[Any], None]) -> None:
        """Run an invalidation durably; raise ``CacheError`` if it did not take effect."""
        with self._lock:
            if self._closed:
                raise CacheError(f"cache {op} after close")
            if self._disabled:
                return  # nothing is served by a disabled cache, so nothing stale can be
            try:
                for attempt in range(3):
                    try:
                        self._env.write(txn_fn)
                        break
                    except lmdb.MapFullError:
                        if attempt == 2:
                            raise
                        self._evict_fraction(0.5)  # even a delete needs free pages
                self._env.sync()
            except lmdb.Error as exc:
                self.errors += 1
                if isinstance(exc, _env.CORRUPTION_ERRORS):
                    self._disable(op, exc)
                    return
                raise CacheError(f"cache {op} failed: {type(exc).__name__}: {exc}") from exc
            self._pending_touch.clear()
            self._pending_drop.clear()

    # -- transaction helpers (no Python state changes: a transaction may be retried) ---
    def _size(self, txn: Any) -> int:
        raw = txn.get(_BYTES_KEY, db=self._db[b"meta"])
        return _I64.unpack(raw)[0] if raw is not None else 0

    def _adjust_size(self, txn: Any, delta: int) -> None:
        if delta:
            size = max(0, self._size(txn) + delta)
            txn.put(_BYTES_KEY, _I64.pack(size), db=self._db[b"meta"])

    def _remove(self, txn: Any, k: bytes, record: bytes) -> int:
        """Delete an entry and its index rows; returns its accounted size."""
        try:
            header = _record.parse(record)
            ids = header.episode_ids(record)
        except ValueError:
            ids = []
        txn.delete(k, db=self._entries)
        at = txn.pop(k, db=self._atime)
        if at is not None:
            txn.delete(at + k, db=self._db[b"lru"])
        tenant = _keys.tenant_of(k)
        for episode_id in ids:
            txn.delete(_keys.episode_index_key(tenant, episode_id), k, db=self._db[b"episodes"])
        return _charge(k, len(record), len(ids))

    def _remove_range(self, txn: Any, prefix: bytes) -> int:
        cur = txn.cursor(db=self._entries)
        doomed: list[tuple[bytes, bytes]] = []
        if cur.set_range(prefix):
            for k, record in cur:
                if not k.startswith(prefix):
                    break
                doomed.append((k, record))
        return sum(self._remove(txn, k, record) for k, record in doomed)

    def _evict(self, txn: Any, size: int, target: int, protect: bytes = b"") -> tuple[int, int]:
        """Remove least recently used entries until under both bounds."""
        count = txn.stat(self._entries)["entries"]
        if size <= target and count <= self._max_entries:
            return size, 0
        lru = txn.cursor(db=self._db[b"lru"])
        evicted = 0
        position = b""
        while (size > target or count > self._max_entries) and lru.set_range(position):
            row = lru.key()
            k = row[8:]
            if k == protect:
                position = row + b"\x00"
                continue
            record = txn.get(k, db=self._entries)
            if record is None:  # an index row without its entry: repair
                txn.delete(row, db=self._db[b"lru"])
                txn.delete(k, db=self._atime)
                continue
            size -= self._remove(txn, k, record)
            count -= 1
            evicted += 1
        return max(size, 0), evicted

    def _evict_fraction(self, keep: float) -> None:
        def txn_fn(txn: Any) -> int:
            size = self._size(txn)
            size, evicted = self._evict(txn, size, int(size * keep))
            txn.put(_BYTES_KEY, _I64.pack(size), db=self._db[b"meta"])
            return evicted

        self.evictions += self._env.write(txn_fn)

    def _rejected(self, txn: Any, k: bytes, version: int, ids: list[UUID], now: float) -> bool:
        if not ids:
            return False
        tombstones = self._db[b"tombstones"]
        tenant = _keys.tenant_of(k)
        for name in [_keys.episode_index_key(tenant, i) for i in ids]:
            raw = txn.get(name, db=tombstones)
            if raw is None:
                continue
            tomb_version, expires = _TOMB.unpack(raw)
            if now >= expires:
                txn.delete(name, db=tombstones)
            elif version <= tomb_version:
                return True
        return False

    def _put_tombstone(self, txn: Any, name: bytes, version: int, now: float) -> None:
        if self._tombstone_ttl > 0:
            txn.put(
                name, _TOMB.pack(version, now + self._tombstone_ttl), db=self._db[b"tombstones"]
            )

    def _apply_pending(self, txn: Any, now: float) -> None:
        """Write buffered promotions, drop buffered stale entries, collect old tombstones."""
        lru = self._db[b"lru"]
        for k, seen in self._pending_touch.items():
            old = txn.get(k, db=self._atime)
            if old is None:
                continue  # evicted or invalidated since
            new = _tick(seen)
            if new > old:
                txn.delete(old + k, db=lru)
                txn.put(new + k, b"", db=lru)
                txn.put(k, new, db=self._atime)
        freed = 0
        for k in self._pending_drop:
            record = txn.get(k, db=self._entries)
            if record is not None and self._is_dead(record, now):
                freed += self._remove(txn, k, record)
        self._adjust_size(txn, -freed)
        self._collect_tombstones(txn, now)

    @staticmethod
    def _is_dead(record: bytes, now: float) -> bool:
        try:
            header = _record.parse(record)
        except ValueError:
            return True
        return header.schema != SCHEMA_VERSION or bool(
            header.expires_at and now >= header.expires_at
        )

    def _collect_tombstones(self, txn: Any, now: float) -> None:
        tombstones = self._db[b"tombstones"]
        if txn.stat(tombstones)["entries"] < _TOMB_GC_THRESHOLD:
            return
        cur = txn.cursor(db=tombstones)
        if not cur.set_range(self._tomb_gc_pos) and not cur.first():
            return
        expired: list[bytes] = []
        last = b""
        for _, (name, raw) in zip(range(_TOMB_GC_BATCH), cur, strict=False):
            last = name
            if now >= _TOMB.unpack(raw)[1]:
                expired.append(name)
        for name in expired:
            txn.delete(name, db=tombstones)
        self._tomb_gc_pos = last + b"\x00" if last else b""

    # -- failures and lifecycle ----------------------------------------------------------
    def _failed(self, op: str, exc: lmdb.Error) -> None:
        self.errors += 1
        if isinstance(exc, _env.CORRUPTION_ERRORS):
            self._disable(op, exc)
        elif self.errors == 1 or self.errors % 1000 == 0:
            logger.warning(
                "LMDB cache %s failed (%d failures so far), treated as a miss: %s: %s",
                op,
                self.errors,
                type(exc).__name__,
                exc,
            )

    def _disable(self, op: str, exc: lmdb.Error) -> None:
        """A corrupt file found while running: stop serving from it (every get misses).

        It is moved aside by the next process that opens it alone (see ``_env``).
        """
        logger.error(
            "LMDB cache at %s is corrupt (%s during %s); serving misses until reopened",
            self._env.path,
            exc,
            op,
        )
        self._disabled = True

    def stats(self) -> CacheStats:
        """This instance's hits, misses and evictions; entries and size of the whole cache."""
        with self._lock:
            entries = size = 0
            if not (self._closed or self._disabled):
                try:
                    self._env.check_intact()
                    with self._env.env.begin() as txn:
                        entries = txn.stat(self._entries)["entries"]
                        size = self._size(txn)
                except lmdb.Error as exc:
                    self._failed("stats", exc)
            return CacheStats(
                hits=self.hits,
                misses=self.misses,
                evictions=self.evictions,
                entries=entries,
                size_bytes=size,
                max_bytes=self._max_bytes,
            )

    def audit(self) -> dict[str, int]:
        """Recount everything from the data (slow: a full scan), for operators and tests.

        Returns the recounted ``entries`` and ``size_bytes`` next to the running
        ``counted_size_bytes``, and the number of index rows that do not match an entry
        (``orphan_*``) or entries missing an index row (``unindexed``); all zero when sound.
        """
        with self._lock:
            if self._closed:
                raise CacheError("cache audit after close")
            try:
                self._env.check_intact()
            except lmdb.Error as exc:
                raise CacheError(f"cache audit: {exc}") from exc
            with self._env.env.begin() as txn:
                size = entries = unindexed = 0
                episode_rows: set[tuple[bytes, bytes]] = set()
                for k, record in txn.cursor(db=self._entries):
                    header = _record.parse(record)
                    ids = header.episode_ids(record)
                    size += _charge(k, len(record), len(ids))
                    entries += 1
                    at = txn.get(k, db=self._atime)
                    if at is None or txn.get(at + k, db=self._db[b"lru"]) is None:
                        unindexed += 1
                    tenant = _keys.tenant_of(k)
                    episode_rows.update((_keys.episode_index_key(tenant, i), k) for i in ids)
                lru_rows = txn.stat(self._db[b"lru"])["entries"]
                atime_rows = txn.stat(self._atime)["entries"]
                stored_rows = set(txn.cursor(db=self._db[b"episodes"]).iternext())
                return {
                    "entries": entries,
                    "size_bytes": size,
                    "counted_size_bytes": self._size(txn),
                    "unindexed": unindexed,
                    "orphan_lru": lru_rows - (entries - unindexed),
                    "orphan_atime": atime_rows - (entries - unindexed),
                    "orphan_episode_rows": len(stored_rows - episode_rows),
                    "missing_episode_rows": len(episode_rows - stored_rows),
                    "tombstones": txn.stat(self._db[b"tombstones"])["entries"],
                    "last_txnid": self._env.env.info()["last_txnid"],
                }

    def flush(self) -> None:
        """Write buffered LRU promotions now (done automatically; for tests and shutdown)."""
        with self._lock:
            if not (self._closed or self._disabled) and (self._pending_touch or self._pending_drop):
                self._flush_locked()

    def compact(self) -> dict[str, Any]:
        """Drop freed pages from the data file (after an erasure, so no byte of an erased
        entry stays on disk). Only when no other process has the cache open."""
        with self._lock:
            if self._closed or self._disabled:
                return {"compacted": False, "reason": "cache closed or disabled"}
            before = (self._env.path / "data.mdb").stat().st_size
            try:
                done = self._env.compact()
            except (OSError, lmdb.Error) as exc:
                raise CacheError(f"cannot compact the LMDB cache: {exc}") from exc
            after = (self._env.path / "data.mdb").stat().st_size
            if not done:
                return {"compacted": False, "reason": "other processes have the cache open"}
            return {"compacted": True, "bytes_before": before, "bytes_after": after}

    def close(self) -> None:
        """Write buffered promotions and release the environment. Idempotent."""
        self.flush()
        with self._lock:
            if self._closed:
                return
            self._closed = True
        _env.release(self._env)

    def __enter__(self) -> LMDBCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LMDBCache({str(self._env.path)!r}, max_bytes={self._max_bytes})"
