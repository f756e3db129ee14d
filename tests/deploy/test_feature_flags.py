"""Feature flags: ``mmr`` switches retrieval diversification; flags are read from the
config on every call (a change applies to the next retrieval, not a stale cached one) and
reported by ``health()`` / the ``health_check`` tool."""

from __future__ import annotations

from pathlib import Path

from memory_core import MemoryConfig, SelfLearningMemory, TaskOutcome
from memory_core.flags import KNOWN_FLAGS, effective_flags

DUPLICATE = "fix the flaky postgres connection test in CI"
DISTINCT = "flaky connection test fix for mysql in CI"


def test_mmr_flag_changes_the_ranking_at_runtime(tmp_path: Path) -> None:
    config = MemoryConfig(
        database_url="memory:", cache_path=str(tmp_path / "cache"), embedding_provider="local"
    )
    with SelfLearningMemory.from_config(config) as memory:
        # Near-duplicates (equal texts would collapse into one hit whatever MMR does).
        near = [DUPLICATE, f"{DUPLICATE} again", f"{DUPLICATE} once more", f"{DUPLICATE} today"]
        for text in [*near, DISTINCT, "speed up the CI docker build cache"]:
            eid = memory.start_episode(text)
            memory.log_step(eid, {"step_number": 1, "tool": "pytest", "action": "rerun test"})
            memory.complete_episode(eid, TaskOutcome(type="success", verdict="done"))

        def top3() -> list[str]:
            hits = memory.retrieve_relevant_context("fix flaky connection test in CI", limit=3)
            return [h.episode.task_description for h in hits]

        assert memory.health().feature_flags == {"mmr": True}
        diversified = top3()
        assert diversified[1] == DISTINCT  # MMR lifts the distinct one over a near-duplicate
        memory.config.feature_flags["mmr"] = False
        undiversified = top3()  # the next call, not the cached diversified list
        assert [t.startswith(DUPLICATE) for t in undiversified[:2]] == [True, True]
        assert DISTINCT not in undiversified or (
            diversified.index(DISTINCT) < undiversified.index(DISTINCT)
        )
        assert memory.health().feature_flags == {"mmr": False}
        memory.config.feature_flags["mmr"] = True
        assert top3() == diversified


def test_unknown_flags_are_reported_not_applied() -> None:
    config = MemoryConfig(database_url="memory:", feature_flags={"mmr": False, "typo_flag": True})
    assert effective_flags(config) == {"mmr": False, "typo_flag": True}
    assert effective_flags(MemoryConfig(database_url="memory:")) == KNOWN_FLAGS
