"""Vector graph builds off the query path: one background thread per (tenant, model).

Why: building the HNSW graph of a 100K-episode store took minutes, and it ran inside the
search that found the graph missing or stale, so that search (and every other, behind
the connection lock) waited. Here a build runs in a daemon thread at a lower CPU
priority (the graph library's worker threads inherit it), reading the rows in short
read transactions (``_ann.build_graph``: the lock is held for a chunk, not the build);
meanwhile searches go on with what they had (the exact matrix, or the previous graph
and its exact tail). The finished graph is persisted beside the database by the build
thread and adopted by the next search inside that search's snapshot: one reference
swap, after which rows newer than the graph are searched exactly as always. A build
given a base graph extends a copy of it with the rows after it (``build_graph``); the
last finished graph is kept (``latest``) until a search takes it, so that rounds started
by a bulk import while it writes chain one onto the other. At exit,
builds still running are cancelled and joined, as ``close`` does: a daemon thread inside
the graph library when the interpreter finalizes can abort the process.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from memory_storage_turso._ann import AnnGraph, Cancelled, Read, build_graph
from memory_storage_turso._key_vectors import KeyVectors, vectors_file, write_key_vectors

__all__ = ["Builder"]

logger = logging.getLogger(__name__)

NICE = 10
"""CPU priority step of a build thread started by a search: serving queries comes first.
A build that is part of a batch job (a bulk import's, or one a caller waits for) keeps
the caller's priority: at nice 10 under a load of 3 on 2 cores, a 1M import's graph got
17 CPU-seconds in its first 3.5 minutes and fell ever further behind the writes."""
RETRY_S = 60.0
"""A failed build is not retried for this long (the error is logged once per try)."""
JOIN_S = 10.0
"""How long closing waits for a cancelled build to stop (one ``ADD_BATCH`` at most)."""

Key = tuple[str, str]


@dataclass
class _Build:
    dim: int
    base: AnnGraph | None = None
    nicer: bool = True
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    graph: AnnGraph | None = None
    thread: threading.Thread | None = None
    vectors_of: AnnGraph | None = None
    """Not a build: write this graph's key vector file (``start_vectors``)."""


def _lower_priority() -> None:
    """Make the calling thread (and the threads it starts) nicer; Linux only, where
    ``setpriority`` on a thread id changes that thread alone."""
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + NICE)


_builders: weakref.WeakSet[Builder] = weakref.WeakSet()


@atexit.register
def _stop_builds() -> None:
    for builder in list(_builders):
        builder.close()


class Builder:
    """Background graph builds of one backend instance.

    Args:
        read: runs a function in a read transaction of the backend's database.
        database: the local file graphs are saved beside (None: not saved).
    """

    def __init__(self, read: Read, database: Path | None) -> None:
        self._read = read
        self._database = database
        self._builds: dict[Key, _Build] = {}
        self._failed: dict[Key, float] = {}
        self._lock = threading.Lock()
        _builders.add(self)

    def start(
        self,
        tenant: str,
        model_id: str,
        dim: int,
        base: AnnGraph | None = None,
        *,
        nicer: bool = True,
        vectors_of: AnnGraph | None = None,
    ) -> bool:
        """Start building the graph of (tenant, model) (extending ``base`` if given; at a
        lower CPU priority if ``nicer``) unless one is under way or the last one failed
        less than ``RETRY_S`` ago. Returns whether one is under way."""
        key = (tenant, model_id)
        with self._lock:
            build = self._builds.get(key)
            if build is not None and not build.done.is_set():
                return True
            if time.monotonic() - self._failed.get(key, -RETRY_S) < RETRY_S:
                return False
            build = _Build(dim, base, nicer, vectors_of=vectors_of)
            build.thread = threading.Thread(
                target=self._run, args=(build, tenant, model_id), daemon=True,
                name=f"vector-graph-build:{model_id}",
            )  # fmt: skip
            self._builds[key] = build
        build.thread.start()
        return True

    def _run(self, build: _Build, tenant: str, model_id: str) -> None:
        if build.nicer:
            _lower_priority()
        started = time.monotonic()
        try:
            if build.vectors_of is not None:
                graph, build.vectors_of = build.vectors_of, None
                if graph.path is not None:
                    self._write_vectors(graph, graph.path, tenant, model_id, build.cancel)
                return
            base, build.base = build.base, None  # not kept alive by the finished build
            graph = build_graph(self._read, tenant, model_id, build.dim, build.cancel, base=base)
            changed = graph is not base  # an extension that found no new rows returns it
            if changed and self._database is not None and not build.cancel.is_set():
                # Before ``save``, which removes the base's files (an extension copies its).
                copied = None
                if base is not None and base.digests is not None and base.vectors is not None:
                    copied = (base.vectors.path, base.vectors.keys, base.last_vid)
                path = graph.file(self._database, tenant, model_id)
                self._write_vectors(graph, path, tenant, model_id, build.cancel, copied)
                try:
                    graph.save(self._database, tenant, model_id)
                except OSError:
                    logger.warning("could not persist the vector graph beside %s", self._database)
            build.graph = graph
            logger.info(
                "%s the vector graph of %s (%d rows) in %.1f s",
                "extended" if base is not None and base.digests is not None else "built",
                model_id, graph.rows,
                time.monotonic() - started,
            )  # fmt: skip
        except Cancelled:
            pass
        except Exception:
            if not build.cancel.is_set():
                logger.exception("building the vector graph of %s failed", model_id)
                with self._lock:
                    self._failed[(tenant, model_id)] = time.monotonic()
        finally:
            build.done.set()

    def start_vectors(self, tenant: str, model_id: str, graph: AnnGraph) -> bool:
        """Write the key vector file of a loaded ``graph`` that has none, in the background
        (unless a build of (tenant, model) is under way: it writes its own)."""
        return self.start(tenant, model_id, graph.dim, vectors_of=graph)

    def _write_vectors(
        self,
        graph: AnnGraph,
        path: Path,
        tenant: str,
        model_id: str,
        cancel: threading.Event,
        base: tuple[Path, int, int] | None = None,
    ) -> None:
        """Write ``graph``'s key vector file beside its graph file ``path`` and attach it
        (searches read rows until then; a failure leaves them doing so)."""
        target = vectors_file(path)
        try:
            write_key_vectors(self._read, graph, target, tenant, model_id, cancel, base)
            if not cancel.is_set():
                graph.vectors = KeyVectors(target, graph.dim, len(graph.starts) - 1)
        except OSError:
            logger.warning("could not write the vector graph's key vectors at %s", target)

    def running(self, tenant: str, model_id: str) -> bool:
        build = self._builds.get((tenant, model_id))
        return build is not None and not build.done.is_set()

    def latest(self, tenant: str, model_id: str) -> AnnGraph | None:
        """The graph the last build finished, if no search has taken it yet."""
        build = self._builds.get((tenant, model_id))
        return build.graph if build is not None and build.done.is_set() else None

    def finished(self, tenant: str, model_id: str, dim: int) -> AnnGraph | None:
        """The graph a build finished since the last call (taken: returned once), if its
        dimension is ``dim``."""
        key = (tenant, model_id)
        with self._lock:
            build = self._builds.get(key)
            if build is None or not build.done.is_set():
                return None
            del self._builds[key]
        return build.graph if build.graph is not None and build.graph.dim == dim else None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every build under way; False if one is still running at ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for build in list(self._builds.values()):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not build.done.wait(left):
                return False
        return True

    def close(self) -> None:
        """Cancel every build and wait (briefly) for their threads to stop."""
        with self._lock:
            builds, self._builds = list(self._builds.values()), {}
        for build in builds:
            build.cancel.set()
        for build in builds:
            if build.thread is not None:
                build.thread.join(JOIN_S)
