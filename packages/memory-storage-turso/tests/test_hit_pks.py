"""Summaries and steps of search hits read by the pk the search noted (``_hit_pks``):
the same as read by id, and never another episode's: not another tenant's episode with
the same id, not an episode that took a deleted one's pk."""

from __future__ import annotations

from uuid import uuid4

from memory_core import Episode, EpisodeFilter, ExecutionStep, StepResult


def _episode(tenant: str, text: str, step: str, **kw: object) -> Episode:
    steps = [
        ExecutionStep(
            step_number=n, tool="shell", action=f"{step} {n}", result=StepResult.success("ok")
        )
        for n in (1, 2)
    ]
    return Episode(tenant=tenant, task_description=text, steps=steps, **kw)  # type: ignore[arg-type]


def _read(store: object, tenant: str, ids: list) -> tuple[list, dict]:  # type: ignore[type-arg]
    summaries = store.get_summaries(tenant, ids)  # type: ignore[attr-defined]
    steps = store.get_steps_many(tenant, [(i, [1, 2]) for i in ids])  # type: ignore[attr-defined]
    return summaries, steps


def test_hits_read_by_pk_are_those_read_by_id(store: object) -> None:
    episodes = [_episode("t", f"rotate the keys of service {n}", f"step of {n}") for n in range(12)]
    for ep in episodes:
        store.create_episode(ep)  # type: ignore[attr-defined]
    ids = [ep.id for ep in episodes]
    by_id = _read(store, "t", ids)  # nothing searched yet: read by id
    store._summaries.clear()  # type: ignore[attr-defined]
    hits = store.lexical_search("t", "rotate keys", 50, EpisodeFilter())  # type: ignore[attr-defined]
    assert {h.episode_id for h in hits} == set(ids)
    assert len(store._hit_pks) == len(ids)  # type: ignore[attr-defined]
    assert _read(store, "t", ids) == by_id
    assert [s.task_description for s in by_id[0]] == [ep.task_description for ep in episodes]
    assert [s.action for s in by_id[1][ids[3]]] == ["step of 3 1", "step of 3 2"]


def test_an_id_noted_in_one_tenant_reads_the_other_tenants_own(store: object) -> None:
    """One id in two tenants (two pks): found by a search in ``a``, read in ``b``."""
    shared = uuid4()
    store.create_episode(_episode("a", "rotate the keys", "a's step", id=shared))  # type: ignore[attr-defined]
    store.create_episode(_episode("b", "renew the lease", "b's step", id=shared))  # type: ignore[attr-defined]
    assert store.lexical_search("a", "rotate keys", 5, EpisodeFilter())  # type: ignore[attr-defined]
    summaries, steps = _read(store, "b", [shared])
    assert [s.task_description for s in summaries] == ["renew the lease"]
    assert [s.action for s in steps[shared]] == ["b's step 1", "b's step 2"]
    summaries, steps = _read(store, "a", [shared])
    assert [s.task_description for s in summaries] == ["rotate the keys"]
    assert [s.action for s in steps[shared]] == ["a's step 1", "a's step 2"]


def test_a_pk_taken_by_a_new_episode_does_not_serve_the_deleted_one(store: object) -> None:
    """The last episode deleted, the next one gets its pk: the deleted one's noted pk
    finds the new row, which is not its, and the new one is read whole."""
    keep = _episode("t", "renew the lease", "keep")
    gone = _episode("t", "rotate the keys", "gone")
    store.create_episode(keep)  # type: ignore[attr-defined]
    store.create_episode(gone)  # type: ignore[attr-defined]
    assert store.lexical_search("t", "rotate keys lease", 5, EpisodeFilter())  # type: ignore[attr-defined]
    pk = store._hit_pks._pks[gone.id.int]  # type: ignore[attr-defined]
    assert store.delete_episode("t", gone.id)  # type: ignore[attr-defined]
    new = _episode("t", "rotate the keys again", "new")
    store.create_episode(new)  # type: ignore[attr-defined]
    reused = store._db.read(
        lambda tx: tx.one("SELECT pk FROM episodes WHERE id = ?", (str(new.id),))
    )  # type: ignore[attr-defined]
    assert reused[0] == pk  # the case under test: the pk was reused
    summaries, steps = _read(store, "t", [gone.id, keep.id, new.id])
    assert [s.id for s in summaries] == [keep.id, new.id]
    assert set(steps) == {keep.id, new.id}
    assert [s.action for s in steps[new.id]] == ["new 1", "new 2"]
    # Found by a search now: the new episode's pk noted under its own id.
    assert store.lexical_search("t", "rotate keys", 5, EpisodeFilter())  # type: ignore[attr-defined]
    summaries, steps = _read(store, "t", [gone.id, new.id])
    assert [s.task_description for s in summaries] == ["rotate the keys again"]
    assert list(steps) == [new.id]
