"""Retention policies: selection rules, dry run, the erasure they trigger, the job."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from memory_core import InvalidInputError, OutcomeType, SelfLearningMemory
from memory_core._models import utcnow
from memory_core.security import RetentionJob, RetentionPolicy, apply_retention
from memory_core.testing.factories import complete, make_episode, make_step

from .conftest import MakeMemory

NOW = datetime(2025, 6, 1, tzinfo=utcnow().tzinfo)


def _age(
    memory: SelfLearningMemory, days: float, outcome: OutcomeType | None, tenant: str = "default"
) -> object:
    started = NOW - timedelta(days=days, minutes=5)
    ep = make_episode(
        f"task aged {days}", tenant=tenant, started_at=started,
        steps=[make_step(1, tool="read"), make_step(2, tool="edit")],
    )  # fmt: skip
    if outcome is not None:
        ep = complete(ep, outcome=outcome, completed_at=NOW - timedelta(days=days))
    assert memory.import_episode(ep)
    return ep.id


def test_age_rules_keep_successes_longer_and_spare_unfinished(ephemeral: MakeMemory) -> None:
    memory = ephemeral(
        retention={"*": RetentionPolicy(max_age_days=30, successful_max_age_days=90,
                                        abandoned_after_days=365)}
    )  # fmt: skip
    old_fail = _age(memory, 40, OutcomeType.FAILURE)
    old_partial = _age(memory, 40, OutcomeType.PARTIAL_SUCCESS)
    old_win = _age(memory, 40, OutcomeType.SUCCESS)
    ancient_win = _age(memory, 100, OutcomeType.SUCCESS)
    fresh_fail = _age(memory, 5, OutcomeType.FAILURE)
    working = _age(memory, 100, None)
    abandoned = _age(memory, 400, None)

    [dry] = apply_retention(memory, now=NOW)
    assert dry.dry_run and memory.count_episodes() == 7
    assert dict(dry.expired) == {
        old_fail: "max_age",
        old_partial: "max_age",
        ancient_win: "max_age",
        abandoned: "abandoned",
    }
    [done] = apply_retention(memory, now=NOW, dry_run=False)
    assert sorted(done.episode_ids) == sorted(dry.episode_ids)
    assert done.erasure is not None and sorted(done.erasure.episode_ids) == sorted(dry.episode_ids)
    left = {s.id for s in memory.list_episodes().items}
    assert left == {old_win, fresh_fail, working}
    [audit] = memory.audit_log.query("default", operation="retention")
    assert sorted(audit.target_ids) == sorted(str(e) for e in dry.episode_ids)


def test_max_episodes_drops_failures_first(ephemeral: MakeMemory) -> None:
    memory = ephemeral(retention={"team": RetentionPolicy(max_episodes=3)})
    wins = [_age(memory, d, OutcomeType.SUCCESS, "team") for d in (10, 20, 30)]
    fails = [_age(memory, d, OutcomeType.FAILURE, "team") for d in (1, 2)]
    _age(memory, 50, OutcomeType.FAILURE, "other")  # no policy for this tenant
    [report] = apply_retention(memory, now=NOW, dry_run=False)
    assert report.tenant == "team"
    assert sorted(report.episode_ids) == sorted(fails)
    assert {s.id for s in memory.list_episodes(tenant="team").items} == set(wins)
    assert memory.count_episodes(tenant="other") == 1

    memory2 = ephemeral(
        retention={"*": RetentionPolicy(max_episodes=1, keep_successful_longer=False)}
    )
    a = _age(memory2, 1, OutcomeType.FAILURE)
    _age(memory2, 2, OutcomeType.SUCCESS)
    _age(memory2, 3, OutcomeType.SUCCESS)
    apply_retention(memory2, now=NOW, dry_run=False)
    assert [s.id for s in memory2.list_episodes().items] == [a]  # newest kept, whatever it is


def test_policy_is_validated_as_config() -> None:
    from memory_core import ConfigurationError, MemoryConfig

    with pytest.raises(ConfigurationError) as err:
        MemoryConfig.load(retention={"*": {"max_age_days": -1}})
    assert "retention" in (err.value.key or "")


def test_background_job_runs_and_stops(ephemeral: MakeMemory) -> None:
    memory = ephemeral(retention={"*": RetentionPolicy(max_age_days=1)})
    _age(memory, (utcnow() - NOW).days + 30, OutcomeType.FAILURE)  # older than a day today
    ran = threading.Event()
    job = RetentionJob(memory, 3600, on_run=lambda reports: ran.set())
    job.start()
    assert ran.wait(timeout=60)
    job.stop(timeout=60)
    assert not job.running and job.runs == 1
    assert memory.count_episodes() == 0
    with pytest.raises(InvalidInputError):
        RetentionJob(memory, 0)


def test_job_starts_only_when_configured(ephemeral: MakeMemory) -> None:
    from memory_core.security import start_retention_job

    assert start_retention_job(ephemeral()) is None
    job = start_retention_job(ephemeral(retention_interval_seconds=3600))
    assert job is not None and job.running
    job.stop(timeout=60)
    assert not job.running
