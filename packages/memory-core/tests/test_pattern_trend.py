"""``analyze_patterns`` reports a trend of recent applications (it was always empty when
the trend came from a backend method that no backend had)."""

from __future__ import annotations

import uuid

from memory_core import SelfLearningMemory
from memory_core._patterns import TREND_WINDOW, usage_trend
from memory_core.testing.factories import make_pattern


def test_usage_trend_windows_align_on_the_latest_application() -> None:
    assert usage_trend([]) == []
    assert usage_trend([True, False, True]) == [0.666667]
    history = [False] * 2 + [False, False, True, True, True] + [True] * TREND_WINDOW
    assert usage_trend(history) == [0.6, 1.0]  # the 2 oldest results form no window


def test_analyze_patterns_trend_follows_recorded_outcomes() -> None:
    memory = SelfLearningMemory()
    try:
        (p,) = memory.storage.upsert_patterns("default", [make_pattern("k")])
        results = [False] * TREND_WINDOW + [True] * TREND_WINDOW
        for ok in results:
            memory.storage.record_pattern_usage("default", p.id, uuid.uuid4(), ok)
        (analysis,) = memory.analyze_patterns()
        assert analysis.pattern.id == p.id
        assert analysis.trend == [0.0, 1.0]
    finally:
        memory.close()
