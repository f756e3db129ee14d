"""``bm25_top.kth_largest``: the sampled threshold never changes the answer."""

from __future__ import annotations

import numpy as np
import pytest
from memory_core.storage.bm25_top import kth_largest


@pytest.mark.parametrize("k", [1, 7, 200, 1_000, 5_000])
@pytest.mark.parametrize("shape", ["uniform", "ties", "sorted", "reversed", "spike", "sampled"])
def test_kth_largest_equals_a_full_partition(shape: str, k: int) -> None:
    rng = np.random.default_rng(5)
    n = 300_000
    values = {
        "uniform": rng.random(n),
        "ties": rng.integers(0, 40, n).astype(np.float64),  # few distinct scores
        "sorted": np.sort(rng.random(n)),  # the strided sample sees a skewed order
        "reversed": np.sort(rng.random(n))[::-1].copy(),
        # The best values all sit between the sampled positions: the guess is low.
        "spike": np.where(np.arange(n) % 36 == 1, 10.0 + rng.random(n), rng.random(n)),
        # They sit exactly at the sampled positions: the guess is too high, fewer than
        # k reach it, and the full partition answers.
        "sampled": np.where(np.arange(n) % 36 == 0, 10.0 + rng.random(n), rng.random(n)),
    }[shape]
    assert kth_largest(values, k) == float(np.partition(values, n - k)[n - k])


def test_small_inputs_take_the_full_partition() -> None:
    values = np.array([3.0, 1.0, 2.0, 3.0])
    assert [kth_largest(values, k) for k in (1, 2, 3, 4)] == [3.0, 3.0, 2.0, 1.0]
