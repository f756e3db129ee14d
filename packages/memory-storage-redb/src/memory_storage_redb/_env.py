"""Opening the LMDB environment safely, repairing it, and growing its map.

Why this is more than ``lmdb.open``: a cache file may be truncated or overwritten with
garbage (disk full, a bad copy, a crash with ``sync`` off). Handing such a file to the
engine can fail, return wrong pages, or even kill the process with SIGBUS when a page
lies past the end of a truncated file. So, before trusting the file:

* every opener holds a shared ``flock`` on ``users.flock`` for as long as it has the
  environment open; openers serialize on ``open.flock`` while checking;
* an opener that finds no other user (it can take ``users.flock`` exclusively) runs
  ``lmdb.verify`` (a pure-Python walker that never hands the file to the engine) when the
  file is small enough, and always checks that the file covers ``last_pgno``;
* a file that fails is logged, moved to ``corrupt-<time>-<pid>/`` inside the cache
  directory (the newest two are kept) and the cache starts empty. The cache is never the
  only copy of anything, so this loses nothing but warmth.

An opener that finds other users trusts the file (they opened it) and only checks its
length. Map growth: ``MapFullError`` doubles the map up to ``max_map_bytes``; another
process's growth shows up as ``MapResizedError`` and is adopted with ``set_mapsize(0)``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final, TypeVar

import lmdb
from memory_core.errors import CacheError

logger = logging.getLogger("memory_storage_redb")

T = TypeVar("T")

DB_NAMES: Final = (b"entries", b"atime", b"lru", b"episodes", b"tombstones", b"meta")
_KEEP_CORRUPT: Final = 2


class TruncatedCacheError(lmdb.Error):
    """The data file became shorter than its pages while open (someone truncated it).

    Touching a page past the end of a mapped file kills the process with SIGBUS, so every
    transaction checks the length first and the cache stops serving instead."""


#: Errors meaning the file itself is bad (as opposed to a full map or a busy reader table).
CORRUPTION_ERRORS: Final = (
    TruncatedCacheError,
    lmdb.CorruptedError,
    lmdb.PageNotFoundError,
    lmdb.InvalidError,
    lmdb.VersionMismatchError,
    lmdb.PanicError,
    lmdb.BadRslotError,
    lmdb.IncompatibleError,
)

if sys.platform != "win32":
    import fcntl

    def _lock(f: IO[bytes], *, exclusive: bool, blocking: bool = True) -> bool:
        flags = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        if not blocking:
            flags |= fcntl.LOCK_NB
        try:
            fcntl.flock(f.fileno(), flags)
        except BlockingIOError:
            return False
        return True

    def _unlock(f: IO[bytes]) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)

else:  # pragma: no cover - no flock: treat every opener as "others may be using it"

    def _lock(f: IO[bytes], *, exclusive: bool, blocking: bool = True) -> bool:
        return not exclusive

    def _unlock(f: IO[bytes]) -> None:
        return None


class CorruptCacheError(Exception):
    """Internal: the file on disk cannot be trusted."""


class Environment:
    """An open LMDB environment with its named databases and a map that grows.

    Args:
        path: the cache directory (created if missing).
        initial_map_bytes: map size for a new environment.
        max_map_bytes: the map never grows past this.
        verify_max_bytes: run the full offline verifier at open for files up to this size.
    """

    def __init__(
        self,
        path: Path,
        *,
        initial_map_bytes: int,
        max_map_bytes: int,
        verify_max_bytes: int,
    ) -> None:
        self.path = path
        self.max_map_bytes = max_map_bytes
        self._initial_map_bytes = min(initial_map_bytes, max_map_bytes)
        self._verify_max_bytes = verify_max_bytes
        self._users: IO[bytes] | None = None
        #: Serializes this process's use (LMDB's set_mapsize needs no live transaction).
        self.lock = threading.Lock()
        self.refs = 0
        self.env: Any = None
        self.dbs: dict[bytes, Any] = {}
        self.moved_aside: list[Path] = []
        self._data: IO[bytes] | None = None  # for the length check of every transaction
        self._psize = 4096
        self._size_seen = 0
        self._open()

    # -- opening -------------------------------------------------------------------
    def _open(self) -> None:
        try:
            self._prepare_directory()
            with open(self.path / "open.flock", "ab") as gate:
                _lock(gate, exclusive=True)
                try:
                    users = open(self.path / "users.flock", "ab")  # noqa: SIM115 - held open
                    sole = _lock(users, exclusive=True, blocking=False)
                    if not sole:
                        _lock(users, exclusive=False)
                    self._users = users
                    try:
                        self._open_checked(sole=sole)
                    finally:
                        if sole:  # safe: other openers wait on the gate meanwhile
                            _lock(users, exclusive=False)
                finally:
                    _unlock(gate)
        except CacheError:
            self.close()
            raise
        except (OSError, lmdb.Error) as exc:
            self.close()
            raise CacheError(f"cannot open the LMDB cache at {self.path}: {exc}") from exc

    def _prepare_directory(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            aside = self.path.with_name(f"{self.path.name}.corrupt-{_stamp()}")
            logger.error("cache path %s is not a directory; moved it to %s", self.path, aside)
            self.path.rename(aside)
            self.moved_aside.append(aside)
        self.path.mkdir(parents=True, exist_ok=True)

    def _open_checked(self, *, sole: bool) -> None:
        try:
            if sole:
                self._verify_offline()
            self._open_engine()
        except (CorruptCacheError, *CORRUPTION_ERRORS) as exc:
            if not sole:
                raise CacheError(
                    f"the LMDB cache at {self.path} is unreadable and in use by another "
                    f"process, so it cannot be moved aside: {exc}"
                ) from exc
            self._close_engine()
            self._move_aside(str(exc))
            self._open_engine()

    def _verify_offline(self) -> None:
        data = self.path / "data.mdb"
        try:
            size = data.stat().st_size
        except FileNotFoundError:
            return
        if size == 0:
            return
        if size < 2 * 512:
            raise CorruptCacheError(f"data.mdb is {size} bytes, too short for its meta pages")
        if size <= self._verify_max_bytes:
            from lmdb import verify

            try:
                problems: list[str] = verify.verify(str(self.path), subdir=True)  # type: ignore[no-untyped-call]
            except verify.VerifyError as exc:
                raise CorruptCacheError(f"not an LMDB file: {exc}") from exc
            if problems:
                raise CorruptCacheError(f"{len(problems)} problems, first: {problems[0]}")

    def _open_engine(self) -> None:
        self.env = lmdb.open(
            str(self.path),
            map_size=self._initial_map_bytes,
            subdir=True,
            max_dbs=len(DB_NAMES),
            # The cache is never the only copy: commits are not fsynced (puts stay
            # cheap); invalidations call sync(force=True) so a deletion survives a crash.
            sync=False,
            metasync=False,
            # Random point reads over a file that may exceed RAM: no readahead.
            readahead=False,
            # security: LMDB writes the unused part of each page from a malloc'd buffer;
            # without zeroing it (meminit=False) leftover process memory (e.g. a deleted
            # episode's JSON just freed by Python) lands in data.mdb in clear.
            meminit=True,
            max_spare_txns=4,
        )
        self._check_length()
        self._psize = int(self.env.stat()["psize"])
        self._data = open(self.path / "data.mdb", "rb")  # noqa: SIM115 - held open
        self._size_seen = os.fstat(self._data.fileno()).st_size
        handles = self.write(
            lambda txn: {
                name: self.env.open_db(name, txn=txn, dupsort=name == b"episodes")
                for name in DB_NAMES
            }
        )
        # In place: every cache sharing this environment holds a reference to this dict.
        self.dbs.clear()
        self.dbs.update(handles)

    def _check_length(self) -> None:
        """A truncated file is caught here, before any page past its end is touched."""
        info = self.env.info()
        psize = self.env.stat()["psize"]
        needed = (info["last_pgno"] + 1) * psize
        actual = (self.path / "data.mdb").stat().st_size
        if actual < needed:
            raise CorruptCacheError(f"data.mdb is {actual} bytes but its pages need {needed}")

    def _move_aside(self, reason: str) -> None:
        aside = self.path / f"corrupt-{_stamp()}"
        aside.mkdir()
        for name in ("data.mdb", "lock.mdb"):
            src = self.path / name
            if src.exists():
                src.rename(aside / name)
        logger.error(
            "LMDB cache at %s is unreadable (%s); moved it to %s and started empty",
            self.path,
            reason,
            aside,
        )
        self.moved_aside.append(aside)
        old = sorted(self.path.glob("corrupt-*"))
        for stale in old[:-_KEEP_CORRUPT]:
            shutil.rmtree(stale, ignore_errors=True)

    # -- running -------------------------------------------------------------------
    def check_intact(self) -> None:
        """Raise ``TruncatedCacheError`` if the file no longer covers its pages.

        An LMDB data file only grows (compaction reopens it), so a size below the largest
        seen means someone shrank it: only then are the pages in use counted. The common
        case is one ``fstat`` (about 0.3 µs). A truncation landing between this check and
        the read can still fault; that window is a few microseconds."""
        if self._data is None:
            return
        actual = os.fstat(self._data.fileno()).st_size
        if actual >= self._size_seen:
            self._size_seen = actual
            return
        needed = (self.env.info()["last_pgno"] + 1) * self._psize
        if actual < needed:
            raise TruncatedCacheError(
                f"data.mdb shrank to {actual} bytes under a running process; "
                f"its pages need {needed}"
            )
        self._size_seen = actual

    def map_size(self) -> int:
        return int(self.env.info()["map_size"])

    def grow(self) -> bool:
        """Double the map (up to the maximum); False when already at the maximum."""
        current = self.map_size()
        if current >= self.max_map_bytes:
            return False
        new = min(self.max_map_bytes, current * 2)
        self.env.set_mapsize(new)
        logger.info("LMDB cache map grown from %d to %d bytes", current, new)
        return True

    def adopt_resize(self) -> None:
        """Another process grew the map: take its size."""
        self.env.set_mapsize(0)

    def write(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(txn)`` in a write transaction, growing the map on ``MapFullError``.

        ``fn`` may run more than once, so it must not change Python state itself.
        """
        self.check_intact()
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    return fn(txn)
            except lmdb.MapResizedError:
                self.adopt_resize()
            except lmdb.MapFullError:
                if not self.grow():
                    raise

    def begin_read(self) -> Any:
        """A read transaction, adopting every growth another process made meanwhile.

        A writer elsewhere may grow the map again between our adoption and the retry, so
        one retry is not enough; each growth at least doubles the map, so the loop ends
        after at most log2(max / initial) rounds.
        """
        while True:
            try:
                return self.env.begin(buffers=True)
            except lmdb.MapResizedError:
                self.adopt_resize()

    def read(self, fn: Callable[[Any], T]) -> T:
        self.check_intact()
        txn = self.begin_read()
        try:
            return fn(txn)
        finally:
            txn.abort()

    def sync(self) -> None:
        self.env.sync(True)

    def compact(self) -> bool:
        """Rewrite the data file without free pages, so bytes of deleted entries are gone
        from it (LMDB is copy-on-write and never zeroes freed pages). Only when this
        process is the sole user: replacing the file under another process's map would
        split the cache. Returns whether it compacted. Call with ``self.lock`` held."""
        if self._users is None or self.env is None:
            return False
        if not _lock(self._users, exclusive=True, blocking=False):
            return False
        try:
            tmp = self.path / f"compact-{_stamp()}"
            tmp.mkdir()
            try:
                self.env.copy(str(tmp), compact=True)
                size = self.env.info()["map_size"]
                self._close_engine()
                os.replace(tmp / "data.mdb", self.path / "data.mdb")
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            self._initial_map_bytes = size
            self._open_engine()
            return True
        finally:
            _lock(self._users, exclusive=False)

    def _close_engine(self) -> None:
        if self._data is not None:
            with contextlib.suppress(OSError):
                self._data.close()
            self._data = None
        if self.env is not None:
            with contextlib.suppress(lmdb.Error):
                self.env.close()
            self.env = None
            self.dbs.clear()

    def close(self) -> None:
        self._close_engine()
        if self._users is not None:
            with contextlib.suppress(OSError):
                _unlock(self._users)
                self._users.close()
            self._users = None


def _stamp() -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"


# -- one Environment per directory per process -------------------------------------------
# LMDB forbids opening the same environment twice in one process (its fcntl locks belong
# to the process), so caches on one directory share an Environment, reference-counted.
_OPEN: dict[str, Environment] = {}
_OPEN_LOCK = threading.Lock()


def acquire(path: Path, **options: int) -> Environment:
    """The process's Environment for ``path``, opened on first use."""
    key = os.path.realpath(path)
    with _OPEN_LOCK:
        env = _OPEN.get(key)
        if env is None or env.env is None:
            env = Environment(path, **options)
            _OPEN[key] = env
        env.refs += 1
        return env


def release(env: Environment) -> None:
    """Drop one reference; the last one closes the environment."""
    with _OPEN_LOCK:
        env.refs -= 1
        if env.refs > 0:
            return
        for key, value in list(_OPEN.items()):
            if value is env:
                del _OPEN[key]
    env.close()
