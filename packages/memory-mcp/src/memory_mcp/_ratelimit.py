"""Per-token rate limiting over HTTP: one token bucket per bearer token (or client
address when authentication is off).

A bucket holds up to ``burst`` requests and refills at ``rate`` per second, so a client
may send ``burst`` requests at once and ``rate`` per second after that. A refused request
learns how long to wait (``Retry-After``). Buckets live on the event loop thread only,
so no lock; the number of buckets is bounded (least recently used go first).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_BUCKETS = 10_000
"""Distinct keys tracked; an evicted key starts again with a full bucket."""


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """0.0 when a request may pass (and is counted), else the seconds until it may."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """``check(key)`` → None when allowed, else seconds to wait. ``rate <= 0`` disables."""

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1, math.ceil(rate * 2)))
        self._clock = clock
        self._max = max_buckets
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, key: str) -> float | None:
        if not self.enabled:
            return None
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.rate, self.burst, self.burst, now)
            self._buckets[key] = bucket
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        wait = bucket.take(now)
        return None if wait == 0.0 else wait

    def describe(self) -> str:
        return f"{self.rate:g} requests/s, bursts of {self.burst:g}"
