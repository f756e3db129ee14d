"""A rolling update on one database: the previous release and this one side by side.

The previous release is real code: ``git archive`` of ``PREVIOUS_RELEASE`` (schema 4),
installed with ``uv sync --locked --no-dev`` into its own environment. The old server
serves first; the new server starts on the same file and migrates it on first open while
the old one keeps running (Kubernetes' ``maxSurge: 1, maxUnavailable: 0``). For that to
work every migration a release ships must be *expand-only* (add tables/columns/indexes,
keep writing what the old code reads); dropping what the old release uses belongs to a
later release, once no old process is left ("contract").
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from cluster import Mcp, Server, memory_env, write_episode
from memory_core import MemoryConfig, SelfLearningMemory

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS_RELEASE = "33f1893"
"""The last commit at schema version 4 (before migration 5 replaced episode_fts, which
schema 4 still wrote, by a view that absorbs those writes)."""


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``memory-mcp`` of the previous release, in its own virtual environment."""
    if shutil.which("git") is None or shutil.which("uv") is None:
        pytest.fail("git and uv are needed to install the previous release", pytrace=False)

    def have_release() -> bool:
        probe = ["git", "-C", str(ROOT), "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"]
        return subprocess.run(probe, capture_output=True).returncode == 0

    if not have_release():  # a shallow clone: fetch the history it left out
        subprocess.run(
            ["git", "-C", str(ROOT), "fetch", "--unshallow", "--quiet"], capture_output=True
        )
    if not have_release():
        # The only case this test cannot run: the previous release's commit is neither in
        # this clone nor fetchable (a shallow clone without access to its origin).
        reason = f"commit {PREVIOUS_RELEASE} is not in this clone and cannot be fetched"
        if os.environ.get("CI"):  # .ci/run clones the whole history: there it is a failure
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    tree = tmp_path_factory.mktemp("previous-release")
    archive = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "archive",
            PREVIOUS_RELEASE,
            "pyproject.toml",
            "uv.lock",
            "packages",
        ],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    env["UV_PROJECT_ENVIRONMENT"] = str(tree / ".venv")
    subprocess.run(
        # That release predates the selfmem- rename: its server distribution is memory-mcp.
        ["uv", "sync", "--locked", "--no-dev", "--package", "memory-mcp", "--quiet"],
        cwd=tree,
        env=env,
        check=True,
        timeout=600,
    )
    return tree / ".venv" / "bin" / "memory-mcp"


@dataclass
class Rollout:
    old: Server
    new: Server
    before: str  # written by the old release before the new one started
    after: str  # written by the new release after it migrated
    db: str


@pytest.fixture(scope="module")
def rollout(previous_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rollout]:
    d = tmp_path_factory.mktemp("rollout")
    db = f"file:{d / 'memory.db'}"
    old_cmd = [str(previous_release), "--transport", "http", "--host", "127.0.0.1", "--port", "0"]
    old = Server.start(memory_env(db, d / "cache-old"), "--stateless", command=old_cmd)
    new: Server | None = None
    try:
        before = anyio.run(first_episode, old.url, 1)
        new = Server.start(memory_env(db, d / "cache-new"), "--stateless")
        after = anyio.run(first_episode, new.url, 2)
        yield Rollout(old, new, before, after, db)
    finally:
        for server in (old, new):
            if server is not None:
                server.stop()


async def first_episode(url: str, n: int) -> str:
    async with Mcp(url) as mcp:
        return await write_episode(mcp, n, domain="rollout")


async def test_each_release_reads_what_the_other_wrote(rollout: Rollout) -> None:
    async with Mcp(rollout.new.url) as mcp:
        health = await mcp.health()
        assert health["memory"]["storage"]["detail"]["schema_version"] >= 4  # migrated
        old_episode = await mcp.call("get_episode", episode_id=rollout.before)
        assert old_episode["task_description"] == "deploy task 1"
        hits = await mcp.call("query_memory", query="deploy task 1 edit module")
        assert rollout.before in str(hits)  # the migration indexed the old release's data
    async with Mcp(rollout.old.url) as mcp:
        new_episode = await mcp.call("get_episode", episode_id=rollout.after)
        assert new_episode["task_description"] == "deploy task 2"
        assert [s["tool"] for s in new_episode["steps"]] == ["editor", "pytest"]


async def test_the_previous_release_keeps_writing_and_querying_after_the_migration(
    rollout: Rollout,
) -> None:
    async with Mcp(rollout.old.url) as mcp:
        later = await write_episode(mcp, 3, domain="rollout")
        hits = await mcp.call("query_memory", query="deploy task edit module")
        assert later in str(hits)
    async with Mcp(rollout.new.url) as mcp:
        assert (await mcp.call("get_episode", episode_id=later))["task_description"] == (
            "deploy task 3"
        )
    # What the old release wrote is found by text search in the new code too.
    config = MemoryConfig(database_url=rollout.db, cache_backend="none", embedding_provider="none")
    with SelfLearningMemory.from_config(config) as memory:
        hits = memory.retrieve_relevant_context("deploy task 3", domain="rollout", limit=10)
        assert later in {str(h.episode.id) for h in hits}
