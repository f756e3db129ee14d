"""Which completed episodes may lack vectors (``embedding_pending``, schema 8): the
catch-up at open reads that table, not every episode, and still finds every episode a
crash, a failure, a deleted vector or another model left without one."""

from __future__ import annotations

from uuid import UUID

from memory_core import Episode, TaskOutcome
from memory_core.models import EmbeddingRecord
from memory_storage_turso import LibSQLStorage

A, B = "test:model-a", "test:model-b"


def _completed(store: LibSQLStorage, task: str) -> UUID:
    episode = Episode(tenant="t", task_description=task)
    store.create_episode(episode)
    store.complete_episode(
        episode.model_copy(update={"outcome": TaskOutcome.success("done")}), None
    )
    return episode.id


def _vector(store: LibSQLStorage, eid: UUID, model: str) -> None:
    store.put_embeddings(
        "t", [EmbeddingRecord(episode_id=eid, item=0, model_id=model, vector=[1.0, 0.0])]
    )


def _missing(store: LibSQLStorage, model: str) -> set[UUID]:
    return {eid for _, eid in store.missing_embeddings(model, 100)}


def _noted(store: LibSQLStorage) -> int:
    row = store._db.read(lambda tx: tx.one("SELECT count(*) FROM embedding_pending"))
    assert row is not None
    return int(row[0])


def test_the_walk_reads_only_the_noted_episodes(store: LibSQLStorage) -> None:
    first, second = _completed(store, "first"), _completed(store, "second")
    assert _missing(store, A) == {first, second}
    _vector(store, first, A)
    assert _missing(store, A) == {second}
    _vector(store, second, A)
    assert _missing(store, A) == set()
    assert _noted(store) == 0  # stored vectors take their episodes off the table
    # An episode that is not noted is not looked at: the walk reads the table alone.
    store._db.write(lambda tx: tx.run("DELETE FROM embeddings WHERE model_id = ?", (A,)))
    store._db.write(lambda tx: tx.run("DELETE FROM embedding_pending"))
    assert _missing(store, A) == set()


def test_a_deleted_vector_notes_its_episode_again(store: LibSQLStorage) -> None:
    eid = _completed(store, "task")
    _vector(store, eid, A)
    assert _missing(store, A) == set()
    assert store.delete_embeddings(A) == 1
    assert _missing(store, A) == {eid}


def test_another_models_vector_makes_the_next_walk_scan_again(store: LibSQLStorage) -> None:
    eid = _completed(store, "task")
    _vector(store, eid, A)
    assert _missing(store, A) == set()
    later = _completed(store, "later")
    _vector(store, later, B)  # a process on model B embedded it: noted for nobody now
    assert _missing(store, A) == {later}  # A's walk scans once more and finds it
    assert _missing(store, B) == {eid}


def test_in_progress_and_deleted_episodes_are_not_returned(store: LibSQLStorage) -> None:
    open_one = Episode(tenant="t", task_description="still running")
    store.create_episode(open_one)
    gone = _completed(store, "deleted")
    assert _missing(store, A) == {gone}
    assert store.delete_episode("t", gone)
    assert _missing(store, A) == set()
    assert _noted(store) == 0


def test_completed_episodes_written_whole_are_noted_until_embedded(
    store: LibSQLStorage,
) -> None:
    from memory_core.models import Extraction

    assert _missing(store, A) == set()  # caught up: from now on the walk reads the table
    whole = Episode(tenant="t", task_description="imported", outcome=TaskOutcome.success())
    store.create_episode(whole)
    bare = Episode(tenant="t", task_description="no vector", outcome=TaskOutcome.success())
    with_vector = Episode(tenant="t", task_description="vector", outcome=TaskOutcome.success())
    vector = EmbeddingRecord(episode_id=with_vector.id, item=0, model_id=A, vector=[1.0, 0.0])
    store.import_batch("t", [bare, with_vector], Extraction(embeddings=[vector]))
    assert _missing(store, A) == {whole.id, bare.id}
    assert _noted(store) == 2
