"""Vector search runs its matrix product on one BLAS thread; other code keeps the default."""

from __future__ import annotations

from memory_core.storage.blas import MIN_ROWS, one_blas_thread
from threadpoolctl import threadpool_info  # type: ignore[import-untyped]


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_one_thread_inside_and_the_default_restored_after() -> None:
    before = _blas_threads()
    assert before  # numpy links a BLAS here
    with one_blas_thread(MIN_ROWS):
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before
    with one_blas_thread(MIN_ROWS - 1):  # small matrices: not worth the call
        assert _blas_threads() == before
