"""One BLAS thread for a query's matrix-vector product (exact vector search).

Why: OpenBLAS splits even a 10K × 256 product over every core, and the hand-off has a
latency floor on a shared machine. Measured here (2 cores, busy): numpy top-10 over
10K × 256 float32 took 20 ms median with the default threads and 0.38 ms with one;
50K: 24 ms vs 7.7 ms. A search is latency-bound, so it runs on one thread; batch work
(embedding, imports) keeps the library's default. The limit is set per call through a
cached ``threadpoolctl`` controller (about 0.05 ms), only for matrices big enough to
care, and never changes the limit seen by other code outside the ``with``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["MIN_ROWS", "one_blas_thread"]

MIN_ROWS = 1_024
"""Below this many rows the product is faster than setting the limit. Not 4,096: a
LoCoMo conversation's 1,242 MiniLM rows (384-d) took 7 ms per search with the default
threads between queries (the threads sleep, each product wakes them) and 0.3 ms with
one; 600 rows showed no hand-off."""

_controller: Any = None
_lock = threading.Lock()


def _get() -> Any:
    global _controller
    if _controller is None:
        with _lock:
            if _controller is None:
                from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

                _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def one_blas_thread(rows: int) -> Iterator[None]:
    """Run the block with one BLAS thread when the matrix has ``rows`` ≥ ``MIN_ROWS``."""
    if rows < MIN_ROWS:
        yield
        return
    with _get().limit(limits=1, user_api="blas"):
        yield
