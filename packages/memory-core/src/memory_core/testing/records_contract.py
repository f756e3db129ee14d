"""Contract tests for the ``RecordStore`` extension of a storage backend.

Subclass ``RecordStoreContract`` and provide a function-scoped ``storage`` fixture that
yields a fresh backend implementing both ``StorageBackend`` and ``RecordStore``.
"""

from __future__ import annotations

from typing import Any

import pytest

from memory_core._errors import EpisodeNotFoundError, EpisodeStateError, InvalidInputError
from memory_core._models import (
    EpisodeFilter,
    Extraction,
    OutcomeType,
    PatternFilter,
    TaskOutcome,
)
from memory_core._protocols import RecordStore
from memory_core.testing.factories import make_episode, make_heuristic, make_pattern, make_step

T1, T2 = "tenant-a", "tenant-b"


class RecordStoreContract:
    """Every test gets a fresh ``storage`` from the subclass's fixture."""

    def test_is_a_record_store(self, storage: Any) -> None:
        assert isinstance(storage, RecordStore)

    def test_put_get_replace_keeps_order(self, storage: Any) -> None:
        for i in range(5):
            storage.put_record(T1, "note", f"n{i}", {"i": i, "text": "é ✓"})
        storage.put_record(T1, "note", "n1", {"i": 10})
        assert storage.get_record(T1, "note", "n1") == {"i": 10}
        assert storage.get_record(T1, "note", "missing") is None
        rows = storage.list_records(T1, "note")
        assert [rid for _, rid, _ in rows] == ["n0", "n1", "n2", "n3", "n4"]
        seqs = [seq for seq, _, _ in rows]
        assert seqs == sorted(seqs) and len(set(seqs)) == 5
        after = storage.list_records(T1, "note", after_seq=seqs[2], limit=1)
        assert [rid for _, rid, _ in after] == ["n3"]

    def test_kinds_and_tenants_are_separate(self, storage: Any) -> None:
        storage.put_record(T1, "a", "x", {"v": 1})
        storage.put_record(T1, "b", "x", {"v": 2})
        assert storage.get_record(T1, "b", "x") == {"v": 2}
        assert storage.get_record(T2, "a", "x") is None
        assert storage.list_records(T2, "a") == []
        assert storage.delete_record(T2, "a", "x") is False
        assert storage.delete_record(T1, "a", "x") is True
        assert storage.get_record(T1, "a", "x") is None

    def test_filter_by_episode_either_side(self, storage: Any) -> None:
        a, b, c = (make_episode(f"task {i}", tenant=T1) for i in range(3))
        for ep in (a, b, c):
            storage.create_episode(ep)
        storage.put_record(T1, "link", "ab", {"from": "a"}, episode_id=a.id, related_id=b.id)
        storage.put_record(T1, "link", "bc", {"from": "b"}, episode_id=b.id, related_id=c.id)
        assert {rid for _, rid, _ in storage.list_records(T1, "link", episode_id=b.id)} == {
            "ab",
            "bc",
        }
        assert {rid for _, rid, _ in storage.list_records(T1, "link", episode_id=a.id)} == {"ab"}

    def test_delete_episode_removes_records_naming_it(self, storage: Any) -> None:
        a, b = make_episode("first", tenant=T1), make_episode("second", tenant=T1)
        storage.create_episode(a)
        storage.create_episode(b)
        storage.put_record(T1, "link", "ab", {}, episode_id=a.id, related_id=b.id)
        storage.put_record(T1, "checkpoint", "cp", {}, episode_id=b.id)
        storage.put_record(T1, "audit", "keep", {"op": "x"})
        assert storage.delete_episode(T1, b.id)
        assert storage.get_record(T1, "link", "ab") is None
        assert storage.get_record(T1, "checkpoint", "cp") is None
        assert storage.get_record(T1, "audit", "keep") == {"op": "x"}

    def test_update_episode_tags(self, storage: Any) -> None:
        ep = make_episode("tagged work", tenant=T1, tags=["old"])
        storage.create_episode(ep)
        storage.append_steps(T1, ep.id, [make_step(1)])
        before = storage.get_episode(T1, ep.id)
        updated = storage.update_episode_tags(T1, ep.id, ["new", "urgent"])
        assert updated.context.tags == ["new", "urgent"]
        again = storage.get_episode(T1, ep.id)
        assert again.context.tags == ["new", "urgent"] and again.version > before.version
        assert len(again.steps) == 1
        assert storage.count_episodes(T1, EpisodeFilter(tags=["urgent"])) == 1
        assert storage.count_episodes(T1, EpisodeFilter(tags=["old"])) == 0
        with pytest.raises(EpisodeNotFoundError):
            storage.update_episode_tags(T2, ep.id, ["x"])

    def test_replace_patterns_overwrites_and_deletes(self, storage: Any) -> None:
        keep, drop = (
            make_pattern("keep", tenant=T1, support=3, successes=2.0),
            make_pattern("drop", tenant=T1, description="zebra crossing pattern"),
        )
        other = make_pattern("keep", tenant=T2, support=3, successes=2.0)
        storage.upsert_patterns(T1, [keep, drop])
        storage.upsert_patterns(T2, [other])
        h = make_heuristic("h", tenant=T1)
        storage.upsert_heuristics(T1, [h])
        lowered = keep.model_copy(update={"support": 2, "successes": 1.0, "description": "quokka"})
        storage.replace_patterns(T1, [lowered], delete_patterns=[drop.id], delete_heuristics=[h.id])
        got = storage.get_pattern(T1, keep.id)
        assert (got.support, got.successes, got.description) == (2, 1.0, "quokka")
        assert storage.get_pattern(T1, drop.id) is None
        assert storage.search_patterns(T1, "zebra", 10, PatternFilter()) == []
        assert [p.id for p, _ in storage.search_patterns(T1, "quokka", 10, PatternFilter())] == [
            keep.id
        ]
        assert storage.list_heuristics(T1, 10) == []
        assert storage.get_pattern(T2, other.id).support == 3

    def test_correct_episode_rewrites_in_place_with_its_patterns(self, storage: Any) -> None:
        ep = make_episode("corrected later", tenant=T1, tags=["kept"])
        storage.create_episode(ep)
        storage.append_steps(T1, ep.id, [make_step(1), make_step(2)])
        old = make_pattern("old", tenant=T1, support=2, successes=2.0, episode_ids=[ep.id])
        gone = make_pattern("gone", tenant=T1, episode_ids=[ep.id])
        h = make_heuristic("h", tenant=T1)
        done = ep.model_copy(
            update={"outcome": TaskOutcome.success(), "pattern_ids": [old.id, gone.id]}
        )
        storage.complete_episode(done, Extraction(patterns=[old, gone], heuristics=[h]))
        before = storage.get_episode(T1, ep.id)
        with pytest.raises(EpisodeStateError):  # an episode still in progress
            open_ep = make_episode("open", tenant=T1)
            storage.create_episode(open_ep)
            storage.correct_episode(
                open_ep.model_copy(update={"outcome": TaskOutcome.success()}), Extraction()
            )
        new = make_pattern("new", tenant=T1, successes=0.0, episode_ids=[ep.id])
        lowered = old.model_copy(update={"support": 1, "successes": 1.0, "episode_ids": []})
        fixed = before.model_copy(
            update={
                "outcome": TaskOutcome.failure("broke sign-up"),
                "metadata": {"notes": ["found in review"]},
                "pattern_ids": [new.id],
                "steps": [],  # steps are not the correction's business
            }
        )
        got = storage.correct_episode(
            fixed,
            Extraction(patterns=[new]),
            replace_patterns=[lowered],
            delete_patterns=[gone.id],
            delete_heuristics=[h.id],
            record=("audit", "a1", {"operation": "update_episode"}),
        )
        stored = storage.get_episode(T1, ep.id)
        assert got == stored
        assert stored.outcome.type is OutcomeType.FAILURE
        assert stored.metadata == {"notes": ["found in review"]}
        assert stored.pattern_ids == [new.id] and stored.version > before.version
        assert [s.step_number for s in stored.steps] == [1, 2]
        assert stored.context.tags == ["kept"]
        assert storage.get_summaries(T1, [ep.id])[0].outcome is OutcomeType.FAILURE
        assert storage.count_episodes(T1, EpisodeFilter(outcome=OutcomeType.FAILURE)) == 1
        assert storage.get_pattern(T1, old.id).support == 1
        assert storage.get_pattern(T1, gone.id) is None
        assert storage.get_pattern(T1, new.id).episode_ids == [ep.id]
        assert storage.list_heuristics(T1, 10) == []
        assert storage.get_record(T1, "audit", "a1") == {"operation": "update_episode"}
        with pytest.raises(EpisodeNotFoundError):
            storage.correct_episode(fixed.model_copy(update={"tenant": T2}), Extraction())

    def test_correct_episode_is_all_or_nothing(self, storage: Any) -> None:
        ep = make_episode("corrected badly", tenant=T1)
        storage.create_episode(ep)
        p = make_pattern("p", tenant=T1, support=2, successes=2.0, episode_ids=[ep.id])
        storage.complete_episode(
            ep.model_copy(update={"outcome": TaskOutcome.success(), "pattern_ids": [p.id]}),
            Extraction(patterns=[p]),
        )
        before = storage.get_episode(T1, ep.id)
        renamed = p.model_copy(update={"key": "another key", "support": 1})
        with pytest.raises(InvalidInputError):  # a pattern's key cannot change
            storage.correct_episode(
                before.model_copy(update={"outcome": TaskOutcome.failure("no")}),
                Extraction(),
                replace_patterns=[renamed],
                record=("audit", "a2", {"operation": "update_episode"}),
            )
        assert storage.get_episode(T1, ep.id) == before
        assert storage.get_pattern(T1, p.id).support == 2
        assert storage.get_record(T1, "audit", "a2") is None
