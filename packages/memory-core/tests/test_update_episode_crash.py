"""kill -9 during ``update_episode`` on a real libSQL file: a correction is all or nothing.

A real process flips the outcome of a few episodes round robin (success ↔ failure) and
prints each acknowledged update; it is killed with SIGKILL after a random number of
acknowledgements (so usually in the middle of the next one), several times over. After
every crash the file is reopened and must hold exactly the state after ``U`` whole
updates, where ``U`` is the number of audited updates (the audit record is written in
the correction's transaction) and is the acknowledged count or one more (the update in
flight may have committed before its line was printed): every episode's outcome, its
reward, and the statistics of the shared tool sequence and its failed twin agree with
``U``. No sleeps: the kill point is chosen by acknowledgements read.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from memory_core import (
    ExecutionStep,
    MemoryConfig,
    OutcomeType,
    SelfLearningMemory,
    StepResult,
    TaskOutcome,
)

TOOLS = ["read_file", "edit_file", "run_tests"]
EPISODES = 3

CORRECTOR = r"""
import json, sys
from memory_core import MemoryConfig, OutcomeType, SelfLearningMemory, TaskOutcome

url, ids, start = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
config = MemoryConfig(database_url=url, cache_backend="none", embedding_provider="local")
memory = SelfLearningMemory.from_config(config)
j = start
while True:
    eid = ids[j % len(ids)]
    was = memory.get_episode(eid).outcome.type
    new = TaskOutcome.failure("broke it") if was is OutcomeType.SUCCESS else TaskOutcome.success()
    memory.update_episode(eid, outcome=new, notes=[f"update {j}"])
    print(j, flush=True)  # acknowledged
    j += 1
"""


def _config(url: str) -> MemoryConfig:
    return MemoryConfig(database_url=url, cache_backend="none", embedding_provider="local")


def _expected_failures(ids: list[str], updates: int) -> set[str]:
    """Episodes whose outcome is failure after ``updates`` round-robin flips."""
    flips = [sum(1 for j in range(updates) if j % len(ids) == i) for i in range(len(ids))]
    return {eid for eid, n in zip(ids, flips, strict=True) if n % 2 == 1}


def test_sigkill_during_update_episode_leaves_a_whole_correction(tmp_path: Path) -> None:
    url = f"file:{tmp_path / 'memory.db'}"
    steps = [
        ExecutionStep(step_number=i, tool=t, action=f"{t} the parser", result=StepResult.success())
        for i, t in enumerate(TOOLS, 1)
    ]
    with SelfLearningMemory.from_config(_config(url)) as memory:
        ids = [
            str(memory.record_episode(f"fix parser bug {i}", steps, TaskOutcome.success()).id)
            for i in range(EPISODES)
        ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMORY_", "EMBEDDING"))}
    rng = random.Random(20)
    committed = 0
    for cycle in range(4):
        child = subprocess.Popen(
            [sys.executable, "-c", CORRECTOR, url, json.dumps(ids), str(committed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        assert child.stdout is not None
        acked = committed
        for _ in range(rng.randint(0, 4)):
            line = child.stdout.readline()
            assert line, child.stderr.read() if child.stderr else "corrector died"
            acked = int(line) + 1
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate()
        acked = max([acked, *(int(x) + 1 for x in rest.split())])
        assert child.returncode == -signal.SIGKILL

        with SelfLearningMemory.from_config(_config(url)) as memory:
            assert memory.storage.integrity_check()["ok"]  # type: ignore[attr-defined]
            audited = [
                r for r in memory.audit_log.query("default") if r.operation == "update_episode"
            ]
            committed = len(audited)
            assert acked <= committed <= acked + 1, (cycle, acked, committed)
            failed = _expected_failures(ids, committed)
            for eid in ids:
                ep = memory.get_episode(eid)
                assert ep.outcome is not None and ep.reward is not None
                want = OutcomeType.FAILURE if eid in failed else OutcomeType.SUCCESS
                assert ep.outcome.type is want, (cycle, committed, eid)
                assert (ep.reward.total == 0.0) == (want is OutcomeType.FAILURE)
                notes = ep.metadata.get("notes", [])
                assert len(notes) == sum(1 for j in range(committed) if ids[j % EPISODES] == eid)
            seqs = {
                p.key.endswith("|failed"): p
                for p in memory.list_patterns()
                if p.kind.value == "tool_sequence" and p.tools == TOOLS
            }
            worked = seqs.get(False)
            tried = seqs.get(True)
            assert (worked.support if worked else 0) == EPISODES - len(failed)
            assert (tried.support if tried else 0) == len(failed)
            if worked is not None:
                assert worked.successes == float(worked.support)
                assert {str(e) for e in worked.episode_ids} == set(ids) - failed
    assert committed >= 3  # the crashes did not all land before the first update
