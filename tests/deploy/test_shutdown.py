"""SIGTERM during load: the server stops within its bound, and no write it acknowledged is
lost (read back afterwards through the library, from the database file alone)."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import pytest
from cluster import Mcp, Server, memory_env
from memory_core import MemoryConfig, SelfLearningMemory

pytestmark = pytest.mark.anyio

WRITERS = 6
SIGNAL_AFTER = 60  # acknowledged calls before SIGTERM
EXIT_BOUND_SECONDS = 60.0


async def test_sigterm_during_load_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    server = Server.start(memory_env(f"file:{db}", tmp_path / "cache"), "--stateless")
    steps: dict[str, int] = {}  # episode id -> steps acknowledged
    completed: set[str] = set()
    calls = 0
    sent = False
    failures: list[BaseException] = []

    def acked() -> None:
        nonlocal calls, sent
        calls += 1
        if calls == SIGNAL_AFTER:
            server.proc.send_signal(signal.SIGTERM)
            sent = True

    async def writer(k: int) -> None:
        try:
            async with Mcp(server.url) as mcp:
                for n in range(10_000):
                    eid = str(
                        (await mcp.call("create_episode", task_description=f"load {k}/{n}"))[
                            "episode_id"
                        ]
                    )
                    steps[eid] = 0
                    acked()
                    for i in range(3):
                        await mcp.call(
                            "add_episode_step", episode_id=eid, tool="shell", action=f"step {i}"
                        )
                        steps[eid] += 1
                        acked()
                    await mcp.call("complete_episode", episode_id=eid, outcome_type="success")
                    completed.add(eid)
                    acked()
        except Exception as exc:  # the server went away: expected once it stops
            if not sent:
                raise
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        for k in range(WRITERS):
            tg.start_soon(writer, k)

    code = server.proc.wait(timeout=EXIT_BOUND_SECONDS)
    log = "".join(server.lines)
    assert code == 0, log
    assert calls >= SIGNAL_AFTER and len(failures) == WRITERS  # load ran into the stop
    assert "Traceback" not in log, log

    config = MemoryConfig(database_url=f"file:{db}", cache_backend="none")
    with SelfLearningMemory.from_config(config) as memory:
        for eid, count in steps.items():
            episode = memory.get_episode(eid)
            # An in-flight step may have been stored while its answer was lost: never fewer.
            assert len(episode.steps) >= count, eid
            if eid in completed:
                assert episode.is_complete, eid
