"""Small statistics used for confidence: why a Wilson bound and not a raw ratio is in
``Pattern.confidence``: two lucky uses must not outrank fifty good ones."""

from __future__ import annotations

import math

_Z95 = 1.959963984540054


def wilson_lower_bound(successes: float, trials: float, z: float = _Z95) -> float:
    """Lower bound of the Wilson score interval; 0 when there are no trials."""
    if trials <= 0:
        return 0.0
    p = min(max(successes / trials, 0.0), 1.0)
    z2 = z * z
    centre = p + z2 / (2 * trials)
    spread = z * math.sqrt((p * (1 - p) + z2 / (4 * trials)) / trials)
    return max(0.0, (centre - spread) / (1 + z2 / trials))
