"""One libSQL connection, used in transactions that retry on lock contention.

Why the retry lives here and not in libSQL's busy handler: the ``libsql`` binding keeps
the GIL while a statement runs, including while SQLite's busy handler sleeps, so a
native busy timeout would freeze every other thread of the process (an asyncio server
included) while another *process* holds the write lock. The native timeout is therefore
0 and waiting happens in Python (``time.sleep`` releases the GIL), with exponential
backoff and jitter until the configured busy timeout runs out.

Write transactions start with ``BEGIN IMMEDIATE``: the write lock is taken up front, so
a transaction never has to upgrade a read lock and can never deadlock with another
writer (the upgrade failure SQLite cannot wait out).

Thread safety: the core calls one backend from one thread at a time, but not always the
same thread (``asyncio.to_thread``). The binding's connection can be used from any
thread (SQLite is built ``THREADSAFE=1``; checked by ``tests/test_threads.py``), and a
lock serialises callers, so concurrent misuse is safe too, only not parallel.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import libsql  # type: ignore[import-untyped]  # the binding ships no stubs
from memory_core import MemoryCoreError, StorageError

from memory_storage_turso._url import Target

T = TypeVar("T")
logger = logging.getLogger("memory_storage_turso")
Row = tuple[Any, ...]

_BUSY_MARKERS = (
    "database is locked",
    "database table is locked",
    "database is busy",
    "sqlite_busy",
)
_MAX_BACKOFF_S = 0.025


def is_busy(exc: BaseException) -> bool:
    """Whether an engine error means "someone else holds the lock; try again"."""
    message = str(exc).lower()
    return any(marker in message for marker in _BUSY_MARKERS)


def fetch(cursor: Any) -> list[Row]:
    """All rows of a cursor; the binding returns ``None`` for statements without rows."""
    rows = cursor.fetchall()
    return list(rows) if rows else []


PAGE_CACHE_KIB = 65_536
"""The connection's page cache (SQLite's default is 2 MiB). Past a few hundred thousand
episodes the id indexes no longer fit in 2 MiB, and every insert or look-up by a random
UUID reads its pages again: a 10K import into a 100K store ran 5-8% faster with 64 MiB."""


class Tx:
    """The statements of one transaction. Thin on purpose: rows are plain tuples."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return fetch(self._conn.execute(sql, tuple(params)))

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute a statement; returns the number of rows it changed."""
        return int(self._conn.execute(sql, tuple(params)).rowcount)

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(r) for r in rows]
        if batch:
            self._conn.executemany(sql, batch)


class Database:
    """A libSQL connection with retrying read and write transactions.

    Args:
        target: where to connect (see ``_url``).
        busy_timeout_ms: how long a transaction may wait for the write lock in total.
        synchronous: ``PRAGMA synchronous`` for local files (``NORMAL`` survives process
            crashes, which is the protocol's promise; ``FULL`` also power loss).
    """

    def __init__(self, target: Target, busy_timeout_ms: int, synchronous: str = "NORMAL") -> None:
        self.target = target
        self._timeout_s = busy_timeout_ms / 1000.0
        self._synchronous = synchronous
        self._lock = threading.RLock()
        self._conn: Any = None
        self._pid = 0
        self.retries = 0
        """How many times a transaction waited for the lock (exposed in stats)."""
        with self._lock:
            self._connection()

    # -- connection ----------------------------------------------------------------
    def _connection(self) -> Any:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        # A forked child must not share its parent's SQLite handle: reopen.
        self._conn = self._open()
        self._pid = os.getpid()
        return self._conn

    def _open(self) -> Any:
        t = self.target
        try:
            if t.mode == "remote":
                return libsql.connect(t.database, auth_token=t.auth_token, isolation_level=None)
            encryption = {"encryption_key": t.encryption_key} if t.encryption_key else {}
            if t.mode == "replica":
                conn = libsql.connect(
                    t.database,
                    sync_url=t.sync_url,
                    sync_interval=t.sync_interval,
                    auth_token=t.auth_token,
                    isolation_level=None,
                    timeout=0.0,
                    **encryption,
                )
            else:
                conn = libsql.connect(t.database, isolation_level=None, timeout=0.0, **encryption)
        except ValueError as exc:
            if "not a database" in str(exc) and t.encryption_key:
                raise self.error(f"cannot open {t.display}: wrong database key", exc) from exc
            raise self.error(f"cannot open {t.display}", exc) from exc
        if t.mode == "file":
            self._retrying(lambda: self._pragmas(conn))
        return conn

    def _pragmas(self, conn: Any) -> None:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchall()
        got = str(mode[0][0]).lower() if mode else ""
        if got not in ("wal", "memory"):
            raise StorageError(f"could not switch {self.target.display} to WAL (got {got!r})")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        # Deleted rows are overwritten with zeros, not left in free pages and free space
        # of b-tree pages: a delete must not leave the text in the file (see scrub()).
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None and self._pid == os.getpid():
                # The binding has no explicit close in every version; dropping it closes.
                close = getattr(conn, "close", None)
                if close is not None:
                    with contextlib.suppress(ValueError):
                        close()

    @property
    def closed(self) -> bool:
        return self._conn is None

    # -- transactions --------------------------------------------------------------
    def read(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` in a read transaction (one consistent snapshot)."""
        return self._transaction("BEGIN", fn)

    def write(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` in a write transaction: all of it commits, or none of it."""
        return self._transaction("BEGIN IMMEDIATE", fn)

    def autocommit(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """One statement outside any transaction (VACUUM, checkpoints, PRAGMAs)."""
        with self._lock:
            conn = self._live()
            return self._retrying(lambda: fetch(conn.execute(sql, tuple(params))))

    def truncate_wal(self) -> dict[str, Any]:
        """``PRAGMA wal_checkpoint(TRUNCATE)`` until it completes (a reader of another
        process can hold old frames) or the busy timeout runs out."""
        deadline = time.monotonic() + self._timeout_s
        delay = 0.0005
        frames = 0
        while True:
            rows = self.autocommit("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, frames = (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)
            if busy == 0:
                return {"scrubbed": True, "wal_frames": frames}
            if time.monotonic() >= deadline:
                logger.warning(
                    "the write-ahead log stayed busy for %.1f s: deleted pages remain in it "
                    "until the next checkpoint",
                    self._timeout_s,
                )
                return {"scrubbed": False, "wal_frames": frames}
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, _MAX_BACKOFF_S)

    def sync(self) -> None:
        """Pull the primary's new frames into an embedded replica."""
        with self._lock:
            conn = self._live()
            try:
                conn.sync()
            except ValueError as exc:
                raise self.error("sync failed", exc) from exc

    def _live(self) -> Any:
        if self._conn is None:
            raise StorageError("the libSQL storage is closed")
        return self._connection()

    def _transaction(self, begin: str, fn: Callable[[Tx], T]) -> T:
        with self._lock:
            conn = self._live()
            tx = Tx(conn)

            def attempt() -> T:
                conn.execute(begin)
                try:
                    result = fn(tx)
                    conn.execute("COMMIT")
                except BaseException:
                    self._rollback(conn)
                    raise
                return result

            return self._retrying(attempt)

    def _retrying(self, attempt: Callable[[], T]) -> T:
        deadline = time.monotonic() + self._timeout_s
        delay = 0.0005
        while True:
            try:
                return attempt()
            except MemoryCoreError:
                raise
            except ValueError as exc:
                if type(exc) is not ValueError:  # e.g. pydantic's ValidationError: not the engine
                    raise
                if not is_busy(exc) or time.monotonic() >= deadline:
                    raise self.error("statement failed", exc) from exc
            self.retries += 1
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())) * random.uniform(0.5, 1.0))
            delay = min(delay * 2, _MAX_BACKOFF_S)

    @staticmethod
    def _rollback(conn: Any) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except ValueError:
            pass  # the transaction is already gone; nothing was committed

    def error(self, what: str, exc: BaseException) -> StorageError:
        """A ``StorageError`` for an engine failure, with the auth token scrubbed."""
        message = str(exc)
        token = self.target.auth_token
        if token:
            message = message.replace(token, "***")
        kind = "lock timeout" if is_busy(exc) else "libSQL error"
        return StorageError(f"{what} on {self.target.display}: {kind}: {message}")


class SideReads:
    """Read transactions on a connection of their own, opened on first use, for the
    background vector graph builds of a local file.

    Why: on the one connection every chunk read of a build queued behind its lock, which
    a bulk import's writer holds nearly all the time (it takes it again right after each
    commit); a 1M import's build, reading 20K rows per chunk, fell ever further behind.
    In WAL mode a reader on another connection neither waits for the writer nor blocks it.
    """

    def __init__(self, target: Target, busy_timeout_ms: int) -> None:
        self._target = target
        self._busy_timeout_ms = busy_timeout_ms
        self._db: Database | None = None
        self._closed = False
        self._lock = threading.Lock()

    def read(self, fn: Callable[[Tx], T]) -> T:
        with self._lock:
            if self._closed:
                raise StorageError("the libSQL storage is closed")
            if self._db is None:
                self._db = Database(self._target, self._busy_timeout_ms)
            db = self._db
        return db.read(fn)

    def close(self) -> None:
        """Close the connection (waiting for a read in flight); later reads fail."""
        with self._lock:
            self._closed = True
            db, self._db = self._db, None
        if db is not None:
            db.close()
