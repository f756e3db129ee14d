"""The audit log: every library write and erasure, the public entry point, queries,
JSONL export and its own retention."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from memory_core import ExecutionStep, InvalidInputError, TaskOutcome
from memory_core._models import utcnow
from memory_core.security import AuditLog, acting_as, erase_episode
from memory_core.security._system import AUDIT_KIND

from .conftest import MakeMemory, record_episode

SECRET = "lyrebirdpayload"


def test_every_write_is_audited_with_ids_and_no_payload(durable: MakeMemory) -> None:
    memory = durable(audit_steps=True)
    with acting_as("token:abc123"):
        eid = memory.start_episode(f"Task with {SECRET}", {"domain": "web"})
        memory.log_step(eid, ExecutionStep(step_number=1, tool="t", action=SECRET))
        memory.log_steps(eid, [ExecutionStep(step_number=2, tool="t", action=SECRET)])
        memory.complete_episode(eid, TaskOutcome.success(SECRET))
        exported = list(memory.export_episodes())
        assert memory.import_episode(exported[0]) is False
        memory.delete_episode(eid)
        memory.delete_episode(eid)
    memory.start_episode("by the library")
    records = memory.audit_log.query("default")
    assert [r.operation for r in records] == [
        "start_episode",
        "log_step",
        "log_steps",
        "complete_episode",
        "export_episodes",
        "import_episode",
        "delete_episode",
        "delete_episode",
        "start_episode",
    ]
    assert {r.principal for r in records[:-1]} == {"token:abc123"}
    assert records[-1].principal == "library"
    assert records[0].target_ids == [str(eid)]
    assert [r.outcome for r in records[6:8]] == ["ok", "not_found"]
    assert all(r.tenant == "default" for r in records)
    assert SECRET not in json.dumps([r.model_dump(mode="json") for r in records])


def test_public_entry_point_queries_and_jsonl_export(ephemeral: MakeMemory) -> None:
    memory = ephemeral()
    memory.audit("tool:query_memory", "token:aaa", [], "ok", tenant="team-a")
    memory.audit("tool:delete_episode", "token:bbb", ["e1"], "denied", tenant="team-a")
    memory.audit("cli:export", "alice", [], "ok", tenant="team-a")
    memory.audit("cli:export", "alice", [], "ok", tenant="team-b")
    log = memory.audit_log
    assert [r.operation for r in log.query("team-a", principal="alice")] == ["cli:export"]
    assert [r.outcome for r in log.query("team-a", operation="tool:delete_episode")] == ["denied"]
    later = utcnow() + timedelta(seconds=1)
    assert len(log.query("team-a", since=later)) == 0
    assert len(log.query("team-a", until=later)) == 3
    out = io.StringIO()
    assert log.export_jsonl("team-a", out, principal="token:bbb") == 1
    line = json.loads(out.getvalue())
    assert set(line) == {"id", "time", "tenant", "principal", "operation", "target_ids", "outcome"}
    assert line["target_ids"] == ["e1"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"operation": "has spaces"}, "operation"),
        ({"operation": "x" * 65}, "operation"),
        ({"principal": ""}, "principal"),
        ({"principal": "p" * 257}, "principal"),
        ({"target_ids": ["x" * 257]}, "target_ids"),
        ({"target_ids": [str(i) for i in range(1001)]}, "target_ids"),
        ({"outcome": "o" * 129}, "outcome"),
    ],
)
def test_bad_audit_input_names_the_field(ephemeral: MakeMemory, kwargs: dict, field: str) -> None:
    memory = ephemeral()
    args = {"operation": "op", "principal": "p", "target_ids": [], "outcome": "ok"} | kwargs
    with pytest.raises(InvalidInputError) as err:
        memory.audit(**args)
    assert err.value.field == field
    assert memory.audit_log.query("default") == []


def test_erasure_keeps_only_that_it_happened(ephemeral: MakeMemory) -> None:
    memory = ephemeral()
    eid = record_episode(memory, "forget me", words=SECRET)
    erase_episode(memory, eid)
    records = memory.audit_log.query("default")
    assert records[-1].operation == "erase_episode" and records[-1].target_ids == [str(eid)]
    assert any(r.operation == "delete_episode" for r in records)
    assert SECRET not in json.dumps([r.model_dump(mode="json") for r in records])


def test_purge_by_age_and_disabled_log(ephemeral: MakeMemory) -> None:
    memory = ephemeral()
    storage = memory.storage
    old = (utcnow() - timedelta(days=400)).isoformat()
    storage.put_record(  # type: ignore[attr-defined]
        "default",
        AUDIT_KIND,
        "00000000000000000001-old",
        {"time": old, "tenant": "default", "principal": "p", "operation": "op",
         "target_ids": [], "outcome": "ok"},
    )  # fmt: skip
    memory.audit("recent", "p")
    log = memory.audit_log
    assert log.purge("default", max_age_days=365, dry_run=True) == 1
    assert len(log.query("default")) == 2
    assert log.purge("default", max_age_days=365) == 1
    assert [r.operation for r in log.query("default")] == ["recent"]
    with pytest.raises(InvalidInputError):
        log.purge("default", max_age_days=0)

    quiet = ephemeral(audit_enabled=False)
    quiet.start_episode("nothing audited")
    assert AuditLog(quiet.storage).query("default") == []


def test_step_logging_is_not_audited_by_default(durable: MakeMemory) -> None:
    memory = durable()
    eid = memory.start_episode("quiet steps")
    memory.log_step(eid, ExecutionStep(step_number=1, tool="t"))
    memory.complete_episode(eid, TaskOutcome.success())
    assert [r.operation for r in memory.audit_log.query("default")] == [
        "start_episode",
        "complete_episode",
    ]
