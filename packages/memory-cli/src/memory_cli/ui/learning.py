"""The numbers behind the Learning page, computed from the store and kept until it changes.

Episodes per day need every summary in the window; at 10K episodes that is the slowest
read the dashboard makes, so the result is remembered per (tenant, window) and reused
while the tenant's storage generation (bumped by every write) is unchanged.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from memory_core import EpisodeFilter, SelfLearningMemory

from memory_cli.ui.charts import histogram_counts

OUTCOMES = ("success", "partial_success", "failure", "in_progress")
PAGE = 1_000
PATTERN_SAMPLE = 500
"""Patterns read for the effectiveness distribution (the most supported first)."""


@dataclass(frozen=True)
class DayRow:
    day: date
    counts: dict[str, int]

    @property
    def completed(self) -> int:
        return sum(v for k, v in self.counts.items() if k != "in_progress")

    @property
    def success_rate(self) -> float | None:
        """Share of the day's completed episodes that succeeded; None without any."""
        return self.counts["success"] / self.completed if self.completed else None


@dataclass(frozen=True)
class Learning:
    days: list[DayRow]
    effectiveness: list[float]
    observed: list[float]
    patterns_without_feedback: int

    @property
    def labels(self) -> list[str]:
        return [d.day.strftime("%m-%d") for d in self.days]

    def series(self) -> dict[str, list[int]]:
        return {name: [d.counts[name] for d in self.days] for name in OUTCOMES}

    def success_rates(self) -> list[float | None]:
        return [d.success_rate for d in self.days]

    def effectiveness_bins(self) -> list[int]:
        return histogram_counts(self.effectiveness)


def daily_outcomes(
    memory: SelfLearningMemory, tenant: str | None, days: int, *, today: date | None = None
) -> list[DayRow]:
    """Episodes started on each of the last ``days`` days (UTC), by outcome."""
    end = today or datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    rows = {start + timedelta(days=i): dict.fromkeys(OUTCOMES, 0) for i in range(days)}
    since = datetime(start.year, start.month, start.day, tzinfo=UTC)
    cursor: str | None = None
    while True:
        page = memory.list_episodes(EpisodeFilter(since=since), PAGE, cursor, tenant=tenant)
        for s in page.items:
            day = s.started_at.astimezone(UTC).date()
            if day in rows:
                rows[day][s.outcome.value if s.outcome is not None else "in_progress"] += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    return [DayRow(day=d, counts=c) for d, c in rows.items()]


def compute(memory: SelfLearningMemory, tenant: str | None, days: int) -> Learning:
    patterns = memory.list_patterns({"min_support": 1}, PATTERN_SAMPLE, tenant=tenant)
    effectiveness = [p.effectiveness for p in patterns if p.effectiveness is not None]
    return Learning(
        days=daily_outcomes(memory, tenant, days),
        effectiveness=[float(e) for e in effectiveness],
        observed=[p.confidence for p in patterns],
        patterns_without_feedback=len(patterns) - len(effectiveness),
    )


class LearningCache:
    """``get(...)`` recomputes only when the tenant's storage generation moved."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, int], tuple[int, date, Learning]] = {}

    def get(self, memory: SelfLearningMemory, tenant: str, days: int) -> Learning:
        generation = memory.storage.generation(tenant)
        today = datetime.now(UTC).date()
        key = (tenant, days)
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[0] == generation and hit[1] == today:
            return hit[2]
        result = compute(memory, tenant, days)
        with self._lock:
            self._entries[key] = (generation, today, result)
        return result


@dataclass
class CacheSampler:
    """Cache hit rate over time: the cache keeps only running totals, so the dashboard
    samples them (at most once a ``min_interval``) and plots the rate between samples."""

    min_interval: float = 5.0
    samples: deque[tuple[float, float, float]] = field(default_factory=lambda: deque(maxlen=60))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sample(self, hits: float, misses: float) -> None:
        now = time.time()
        with self._lock:
            if self.samples and now - self.samples[-1][0] < self.min_interval:
                return
            self.samples.append((now, hits, misses))

    def rates(self) -> tuple[list[str], list[float | None]]:
        """Hit rate between consecutive samples (None when nothing was read between)."""
        with self._lock:
            samples = list(self.samples)
        labels: list[str] = []
        values: list[float | None] = []
        for (_, h0, m0), (t1, h1, m1) in itertools.pairwise(samples):
            reads = (h1 - h0) + (m1 - m0)
            labels.append(datetime.fromtimestamp(t1, UTC).strftime("%H:%M:%S"))
            values.append((h1 - h0) / reads if reads > 0 else None)
        return labels, values
