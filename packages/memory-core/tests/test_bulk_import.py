"""import_episodes: a mixed batch stores the good, skips duplicates, reports the bad."""

from __future__ import annotations

from memory_core import SelfLearningMemory
from memory_core.testing.factories import complete, make_episode, make_step


def _done(task: str) -> dict[str, object]:
    steps = [make_step(1, tool="grep"), make_step(2, tool="edit")]
    return complete(make_episode(task, steps=steps)).model_dump(mode="json")


def test_mixed_batch_stores_good_skips_duplicates_reports_malformed() -> None:
    memory = SelfLearningMemory()
    good, other = _done("fix the login test"), _done("add a cache")
    memory.import_episodes([good])
    bad = dict(other, id="not-a-uuid")
    seen = []
    report = memory.import_episodes([good, other, bad, other], batch_size=2, progress=seen.append)
    assert (report.imported, report.duplicates) == (1, 2)
    assert [(p.index, p.field) for p in report.problems] == [(2, "id")]
    assert memory.count_episodes() == 2
    assert [r.processed for r in seen] == [2, 4]
    stored = memory.get_episode(str(other["id"]))
    assert stored.pattern_ids and memory.get_pattern(stored.pattern_ids[0]).support >= 1
