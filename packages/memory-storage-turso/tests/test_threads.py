"""One backend used from several threads: asyncio.to_thread hops and concurrent misuse."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from memory_core import Episode, EpisodeFilter, ExecutionStep


def test_libsql_connection_works_from_another_thread(store: object) -> None:
    """The binding's connection is not tied to its creating thread (SQLite THREADSAFE=1)."""
    ep = Episode(tenant="t", task_description="made on main thread")
    store.create_episode(ep)  # type: ignore[attr-defined]
    seen: list[object] = []
    worker = threading.Thread(target=lambda: seen.append(store.get_episode("t", ep.id)))  # type: ignore[attr-defined]
    worker.start()
    worker.join()
    assert seen[0] == store.get_episode("t", ep.id)  # type: ignore[attr-defined]


def test_asyncio_to_thread_hops_between_threads(store: object) -> None:
    async def run() -> set[int]:
        idents: set[int] = set()
        for i in range(30):
            ep = Episode(tenant="t", task_description=f"async {i}")
            await asyncio.to_thread(store.create_episode, ep)  # type: ignore[attr-defined]
            await asyncio.to_thread(
                store.append_steps, "t", ep.id, [ExecutionStep(step_number=1, tool="x")]
            )  # type: ignore[attr-defined]
            idents.add(await asyncio.to_thread(threading.get_ident))
        return idents

    asyncio.run(run())
    assert store.count_episodes("t", EpisodeFilter()) == 30  # type: ignore[attr-defined]


def test_concurrent_callers_are_serialised_not_corrupted(store: object) -> None:
    def work(i: int) -> int:
        ep = Episode(tenant="t", task_description=f"thread {i}")
        store.create_episode(ep)  # type: ignore[attr-defined]
        n = store.append_steps(
            "t", ep.id, [ExecutionStep(step_number=k, tool="x") for k in range(1, 6)]
        )  # type: ignore[attr-defined]
        store.lexical_search("t", "thread", 5, EpisodeFilter())  # type: ignore[attr-defined]
        return int(n)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(work, range(40))) == [5] * 40
    assert store.count_episodes("t", EpisodeFilter()) == 40  # type: ignore[attr-defined]
    assert store.integrity_check()["ok"]  # type: ignore[attr-defined]
