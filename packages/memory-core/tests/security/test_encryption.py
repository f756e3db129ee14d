"""Encryption at rest of sensitive episodes, on a real libSQL file and LMDB cache."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from memory_core import (
    ConfigurationError,
    EpisodeFilter,
    ExecutionStep,
    PatternKind,
    TaskOutcome,
)
from memory_core.security import (
    DecryptionError,
    EncryptedStorage,
    RotationProgress,
    key_usage,
    rotate_keys,
)
from memory_core.security._system import DEK_KIND

from .conftest import MakeMemory, new_key, raw_bytes, record_episode

SECRET = "quokkasecret"
PLAIN = "wombatplain"


def _sealed_token(text: str) -> str:
    """The longest run of letters and digits in a sealed field (an FTS term of it)."""
    return max(re.findall(r"[A-Za-z0-9]+", text.removeprefix("menc1:")), key=len)


def test_sensitive_episode_round_trips_in_clear_for_the_caller(
    durable: MakeMemory, key: str
) -> None:
    memory = durable(encryption_keys=f"k1:{key}")
    eid = record_episode(memory, "Rotate the payroll credentials", words=SECRET, sensitive=True)
    ep = memory.get_episode(eid)
    assert ep.task_description == f"Rotate the payroll credentials {SECRET}"
    assert ep.steps[0].parameters == {"path": f"/src/{SECRET}.py"}
    assert ep.steps[0].metadata == {"note": f"meta {SECRET}"}
    assert ep.steps[1].result is not None and ep.steps[1].result.output == f"output {SECRET}"
    assert ep.outcome is not None and ep.outcome.artifacts == [f"artifact-{SECRET}"]
    assert ep.reflection is not None and ep.reflection.text()
    summary = memory.list_episodes().items[0]
    assert summary.task_description == ep.task_description
    assert summary.verdict == f"verdict {SECRET}"
    assert [e.id for e in memory.export_episodes()] == [eid]
    assert next(iter(memory.export_episodes())) == ep

    stored = memory.storage.inner.get_episode("default", eid)  # type: ignore[attr-defined]
    assert stored is not None
    assert stored.task_description.startswith("menc1:")
    assert all(s.action.startswith("menc1:") and not s.parameters for s in stored.steps)
    assert stored.outcome is not None and stored.outcome.artifacts == []
    assert SECRET not in stored.model_dump_json()


def test_no_plaintext_in_raw_libsql_wal_and_lmdb_files(
    durable: MakeMemory, key: str, tmp_path: Path
) -> None:
    memory = durable(encryption_keys=f"k1:{key}")
    secret_id = record_episode(memory, "Migrate the patient records", words=SECRET, sensitive=True)
    failed_id = record_episode(
        memory, "Migrate the patient records again", words=SECRET, sensitive=True, success=False
    )
    plain_id = record_episode(memory, "Migrate the invoice records", words=PLAIN)
    # reads and searches that would fill every cache tier
    for _ in range(2):
        memory.get_episode(secret_id)
        memory.get_episode(failed_id)
        memory.get_episode(plain_id)
        memory.list_episodes()
        memory.query(f"migrate patient records {SECRET}", limit=5)
        memory.retrieve_relevant_patterns(f"records {SECRET}")
        for p in memory.list_patterns():
            memory.get_pattern(p.id)
    # a query that does hit the sensitive episode (through a term of its ciphertext):
    # its decrypted result must not be written to the retrieval cache
    sealed = memory.storage.inner.get_episode("default", secret_id).task_description  # type: ignore[attr-defined]
    hits = memory.retrieve_relevant_context(_sealed_token(sealed), limit=5)
    found = {h.episode.id: h for h in hits}
    assert secret_id in found
    assert found[secret_id].episode.task_description.endswith(SECRET)

    files = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert {"memory.db", "memory.db-wal", "data.mdb"} <= files
    raw = raw_bytes(tmp_path)
    assert PLAIN.encode() in raw  # the check can see clear text when there is some
    assert SECRET.encode() not in raw
    assert b"patient" not in raw
    memory.close()
    raw = raw_bytes(tmp_path)
    assert PLAIN.encode() in raw and SECRET.encode() not in raw and b"patient" not in raw


def test_search_on_sensitive_episodes_is_by_id_and_filters_only(
    durable: MakeMemory, key: str
) -> None:
    memory = durable(encryption_keys=f"k1:{key}")
    record_episode(memory, "Audit the clinic ledger", words=PLAIN)
    memory.flush()  # the clear-text episode's vectors are written in the background
    vectors_before = memory.storage.stats("default").embeddings
    eid = record_episode(
        memory, "Audit the clinic ledger", words=SECRET, sensitive=True, domain="health"
    )
    memory.flush()  # a vector of the sensitive one would be written by now
    storage = memory.storage
    assert storage.stats("default").embeddings == vectors_before  # no vectors for it
    hits = memory.retrieve_relevant_context(f"audit clinic ledger {SECRET}", limit=10)
    assert eid not in [h.episode.id for h in hits]
    assert hits  # the clear-text twin is found
    assert [s.id for s in memory.list_episodes({"domain": "health"}).items] == [eid]
    assert memory.count_episodes(EpisodeFilter(domain="health")) == 1
    # only structural patterns, with no text of the episode
    ep = memory.get_episode(eid)
    mine = memory.storage.get_patterns("default", ep.pattern_ids)
    assert mine and {p.kind for p in mine} <= {
        PatternKind.TOOL_SEQUENCE,
        PatternKind.CONTEXT_PATTERN,
    }
    for p in memory.list_patterns(limit=100):
        assert SECRET not in p.model_dump_json()
    assert memory.storage.search_patterns("default", SECRET, 10, _pf()) == []
    for h in memory.list_heuristics(100):
        assert SECRET not in h.model_dump_json()


def _pf():  # type: ignore[no-untyped-def]
    from memory_core import PatternFilter

    return PatternFilter()


def test_tenant_policy_encrypts_every_episode_of_that_tenant(
    ephemeral: MakeMemory, key: str
) -> None:
    memory = ephemeral(encryption_keys=f"k1:{key}", sensitive_tenants=["vault"])
    locked = record_episode(memory, "Quarterly numbers", words=SECRET, tenant="vault")
    open_ = record_episode(memory, "Quarterly numbers", words=PLAIN, tenant="lobby")
    storage = memory.storage
    assert isinstance(storage, EncryptedStorage)
    assert storage.inner.get_episode("vault", locked).task_description.startswith("menc1:")  # type: ignore[union-attr]
    assert storage.inner.get_episode("lobby", open_).task_description.endswith(PLAIN)  # type: ignore[union-attr]
    assert memory.get_episode(locked, tenant="vault").task_description.endswith(SECRET)


def test_sensitive_without_keys_is_refused_before_anything_is_written(
    ephemeral: MakeMemory,
) -> None:
    memory = ephemeral()
    with pytest.raises(ConfigurationError) as err:
        memory.start_episode("x", metadata={"sensitive": True})
    assert err.value.key == "MEMORY_ENCRYPTION_KEYS"
    assert memory.count_episodes() == 0
    policy_only = ephemeral(sensitive_tenants=["*"])
    with pytest.raises(ConfigurationError):
        policy_only.start_episode("y")
    assert policy_only.count_episodes() == 0


def test_ciphertext_is_bound_to_its_episode(ephemeral: MakeMemory, key: str) -> None:
    memory = ephemeral(encryption_keys=f"k1:{key}")
    a = record_episode(memory, "first", words=SECRET, sensitive=True)
    b = record_episode(memory, "second", words=SECRET, sensitive=True)
    storage = memory.storage
    assert isinstance(storage, EncryptedStorage)
    sealed_a = storage.inner.get_episode("default", a)
    sealed_b = storage.inner.get_episode("default", b)
    assert sealed_a is not None and sealed_b is not None
    swapped = sealed_b.model_copy(update={"task_description": sealed_a.task_description})
    with pytest.raises(DecryptionError):
        storage._open_episode(swapped)
    flipped = (
        sealed_a.task_description[:-3]
        + ("A" if sealed_a.task_description[-3] != "A" else "B")
        + sealed_a.task_description[-2:]
    )
    with pytest.raises(DecryptionError):
        storage._open_episode(sealed_a.model_copy(update={"task_description": flipped}))


def test_unknown_key_id_is_a_clear_error(durable: MakeMemory, key: str) -> None:
    first = durable(encryption_keys=f"k1:{key}")
    eid = record_episode(first, "Rotate secrets", words=SECRET, sensitive=True)
    first.close()
    other = durable(encryption_keys=f"k9:{new_key()}")
    with pytest.raises(DecryptionError) as err:
        other.get_episode(eid)
    assert err.value.key_id == "k1" and "k1" in str(err.value)
    assert key not in str(err.value)


def test_key_rotation_rewraps_in_batches_with_progress(durable: MakeMemory, key: str) -> None:
    first = durable(encryption_keys=f"k1:{key}")
    ids = [
        record_episode(first, f"task {i}", words=SECRET, sensitive=True, tools=("a", "b"))
        for i in range(25)
    ]
    plain = record_episode(first, "task plain", words=PLAIN)
    first.close()

    k2 = new_key()
    both = durable(encryption_keys=f"k1:{key},k2:{k2}")  # k2 listed last: active
    assert key_usage(both) == {"k1": 25}
    seen: list[RotationProgress] = []
    assert rotate_keys(both, batch=10, progress=seen.append) == 25
    assert [(p.seen, p.rewrapped, p.total) for p in seen] == [
        (10, 10, 25),
        (20, 20, 25),
        (25, 25, 25),
    ]
    assert key_usage(both) == {"k2": 25}
    assert rotate_keys(both, batch=10) == 0  # idempotent
    rotations = both.audit_log.query("default", operation="rotate_keys")
    assert [r.outcome for r in rotations] == ["ok:25", "ok:0"]
    both.close()

    only_new = durable(encryption_keys=f"k2:{k2}")
    for eid in ids:
        assert only_new.get_episode(eid).task_description.endswith(SECRET)
    assert only_new.get_episode(plain).task_description.endswith(PLAIN)


def test_erasing_a_sensitive_episode_destroys_its_data_key(ephemeral: MakeMemory, key: str) -> None:
    memory = ephemeral(encryption_keys=f"k1:{key}")
    eid = record_episode(memory, "to be forgotten", words=SECRET, sensitive=True)
    storage = memory.storage
    assert isinstance(storage, EncryptedStorage)
    assert storage.get_record("default", DEK_KIND, str(eid)) is not None
    assert memory.delete_episode(eid)
    assert storage.get_record("default", DEK_KIND, str(eid)) is None


def test_queue_mode_extraction_keeps_sensitive_episodes_structural(
    ephemeral: MakeMemory, key: str
) -> None:
    memory = ephemeral(encryption_keys=f"k1:{key}", extraction_mode="queue")
    eid = record_episode(memory, "queued secret", words=SECRET, sensitive=True, success=False)
    memory.flush()
    ep = memory.get_episode(eid)
    assert ep.outcome is not None and ep.outcome.reason == f"reason {SECRET}"
    kinds = {p.kind for p in memory.storage.get_patterns("default", ep.pattern_ids)}
    assert kinds and kinds <= {PatternKind.TOOL_SEQUENCE, PatternKind.CONTEXT_PATTERN}
    assert memory.storage.stats("default").embeddings == 0
    for p in memory.list_patterns(limit=100):
        assert SECRET not in p.model_dump_json()


def test_import_of_an_exported_sensitive_episode_stays_encrypted(
    ephemeral: MakeMemory, key: str
) -> None:
    source = ephemeral(encryption_keys=f"k1:{key}")
    eid = record_episode(source, "exported secret", words=SECRET, sensitive=True)
    exported = source.get_episode(eid)
    target = ephemeral(encryption_keys=f"k2:{new_key()}")
    assert target.import_episode(exported.model_dump_json())
    stored = target.storage.inner.get_episode("default", eid)  # type: ignore[attr-defined]
    assert stored is not None and SECRET not in stored.model_dump_json()
    back = target.get_episode(eid)
    assert back.task_description == exported.task_description
    assert back.outcome == exported.outcome
    with pytest.raises(ConfigurationError):
        ephemeral().import_episode(exported)


def test_outcome_fields_survive_partial_success(ephemeral: MakeMemory, key: str) -> None:
    memory = ephemeral(encryption_keys=f"k1:{key}")
    eid = memory.start_episode("partial", metadata={"sensitive": True})
    outcome = TaskOutcome.partial(f"v {SECRET}", completed=["a"], failed=[f"b {SECRET}"])
    memory.complete_episode(eid, outcome)
    assert memory.get_episode(eid).outcome == outcome


def test_unnumbered_steps_of_a_sensitive_episode_are_sealed_with_their_number(
    durable: MakeMemory, key: str
) -> None:
    """The store assigns the number inside its transaction; the seal (bound to the
    number) is made there too, so the step opens again."""
    memory = durable(encryption_keys=f"k1:{key}")
    eid = memory.start_episode("rotate keys", metadata={"sensitive": True})
    assert memory.log_step(eid, ExecutionStep(step_number=4, tool="a", action="first")) == 4
    assert memory.log_steps(eid, [{"tool": "b", "action": f"then {SECRET}"}, {"tool": "c"}]) == [
        5,
        6,
    ]
    steps = memory.get_episode(eid).steps
    assert [(s.step_number, s.tool) for s in steps] == [(4, "a"), (5, "b"), (6, "c")]
    assert steps[1].action == f"then {SECRET}"
    stored = memory.storage.inner.get_episode("default", eid)  # type: ignore[attr-defined]
    assert stored is not None and all(s.action.startswith("menc1:") for s in stored.steps)


def test_notes_and_lessons_added_later_are_sealed_on_disk(
    durable: MakeMemory, key: str, tmp_path: Path
) -> None:
    """``update_episode`` keeps notes and lessons in episode metadata: for a sensitive
    episode they are agent-written text like its steps, so they are sealed too."""
    memory = durable(encryption_keys=f"k1:{key}")
    eid = record_episode(memory, "Migrate the patient records", words=SECRET, sensitive=True)
    memory.update_episode(eid, notes=["note quokka-7731"], lessons=["lesson wombat-4410"])
    again = memory.update_episode(eid, notes=["second note quokka-7732"])
    assert again.metadata["notes"] == ["note quokka-7731", "second note quokka-7732"]
    assert memory.get_episode(eid).metadata["lessons"] == ["lesson wombat-4410"]
    stored = memory.storage.inner.get_episode("default", eid)  # type: ignore[attr-defined]
    assert stored.metadata["sensitive"] is True
    assert str(stored.metadata["notes"]).startswith("menc1:")
    memory.close()
    raw = raw_bytes(tmp_path)
    assert b"quokka" not in raw and b"wombat" not in raw and SECRET.encode() not in raw
