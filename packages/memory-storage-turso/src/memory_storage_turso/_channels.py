"""Running a query's vector channel on a thread of its own, beside its lexical channel.

Why: at 1M episodes one query's vector search (the graph library's search, which releases
the GIL, and the exact scan of the heavy keys, a BLAS product) costs ~10 ms and the
lexical channel ~10 ms of mostly Python; one after the other they are most of a query.
On two connections (WAL readers neither wait for each other nor for the writer) and two
threads, the GIL-free part of one overlaps the other. Probed at 1M, 150 queries, load 3:
p50 58 -> 43 ms, p95 103 -> 74 ms for the two channels.

One worker thread per backend, started on first use and again after a fork (a thread
does not survive one); ``close`` waits for a search in flight.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

from memory_core import StorageError

__all__ = ["ChannelThread"]

A = TypeVar("A")
B = TypeVar("B")


class ChannelThread:
    """A single worker thread that runs one function while the caller runs another."""

    def __init__(self, name: str = "memory-vector-channel") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0
        self._closed = False

    def beside(self, side: Callable[[], A], main: Callable[[], B]) -> tuple[B, A]:
        """``(main(), side())`` with ``side`` run on the worker meanwhile. If either
        raises, the other has finished first (no search left running on a connection
        about to be reused), and ``main``'s error wins (it is the caller's own)."""
        future: Future[A] = self._worker().submit(side)
        try:
            first = main()
        except BaseException:
            wait([future])
            raise
        return first, future.result()

    def _worker(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._closed:
                raise StorageError("the libSQL storage is closed")
            if self._pool is None or self._pid != os.getpid():
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
                self._pid = os.getpid()
            return self._pool

    def close(self) -> None:
        """Wait for a search in flight and stop the thread. Idempotent."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.shutdown(wait=True)
