"""Pausing Python's cyclic garbage collector around bulk work (with collections at the
batch boundaries instead) and around one retrieval.

A bulk import allocates millions of short-lived objects (models, rows, JSON). The
automatic collector runs every few hundred allocations; its young collections keep
walking the batch in flight and its full collections walk the whole heap, which grows
with the process. Measured on a 100K-episode import (static embedder, quiet machine):
855 episodes/s with automatic collection, falling to ~790/s by the end; 1,523/s with it
paused. Reference counting still frees almost everything at once; what it cannot (cycles)
is collected by :meth:`GcPause.batch_done` at each batch boundary (young generations)
and fully every ``full_every`` batches, so memory stays bounded on a long import.

A retrieval builds hundreds of hits, candidates and their dicts, alive until it returns:
the young collections that fall inside it walk all of them, and every tenth one moves
them on to be walked again (2-3% of a query's CPU at 10K episodes, the same process
alternating 20-query blocks with and without the pause). They die by reference counting
when it returns, so the pause leaves the collector only what outlives the query, provided
the pause ends after the query's locals are freed (``Retriever`` pauses around a call of
the body, not inside it): ended inside, the pause left the locals (the candidate pool's
summaries, the scores) to the first allocation after it, a young collection walking them
on 442 of 500 queries of the 10K ``scale.py`` store (median 0.2 ms each, every tenth one
an older generation too); ended after, on 52.

The collector's switch is process-wide, so pauses nest by count: the collector is back
on when the last pause ends (and only if it was on when the first began).
"""

from __future__ import annotations

import gc
import threading
from types import TracebackType

_lock = threading.Lock()
_depth = 0
_was_enabled = False


class GcPause:
    """``with GcPause() as pause: ... pause.batch_done()`` around a loop of batches."""

    def __init__(self, full_every: int = 40) -> None:
        self._full_every = max(1, full_every)
        self._batches = 0

    def __enter__(self) -> GcPause:
        global _depth, _was_enabled
        with _lock:
            if _depth == 0:
                _was_enabled = gc.isenabled()
                gc.disable()
            _depth += 1
        return self

    def batch_done(self) -> None:
        """Collect what the finished batch left in reference cycles: the young
        generations every batch (cheap: little survives a batch), everything every
        ``full_every`` batches."""
        self._batches += 1
        gc.collect(2 if self._batches % self._full_every == 0 else 1)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _depth
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
