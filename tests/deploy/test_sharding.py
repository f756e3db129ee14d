"""Per-tenant sharding: ``DATABASE_URL`` with ``{tenant}`` gives each tenant its own
database file; neither file's raw bytes (database and WAL) hold the other's data.

Checked through the library (one process, two tenants) and through two server processes
sharing the template, each serving the tenant named by ``MEMORY_TENANT``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cluster import Mcp, Server, memory_env, write_episode
from memory_core import MemoryConfig, SelfLearningMemory, TaskOutcome

TENANTS = ("acme", "globex")


def marker(tenant: str) -> str:
    return f"confidential-{tenant}-roadmap"


def raw_bytes(directory: Path, tenant: str) -> bytes:
    """Everything on disk for the tenant's database: the file and its WAL/SHM."""
    files = sorted(directory.glob(f"{tenant}.db*"))
    assert files, f"no database file for {tenant}"
    return b"".join(f.read_bytes() for f in files)


def assert_isolated(directory: Path) -> None:
    assert sorted(p.name for p in directory.glob("*.db")) == [f"{t}.db" for t in TENANTS]
    for tenant in TENANTS:
        data = raw_bytes(directory, tenant)
        assert marker(tenant).encode() in data, f"{tenant}'s own data is missing"
        for other in TENANTS:
            if other != tenant:
                assert marker(other).encode() not in data, f"{other}'s data is in {tenant}.db"
                assert other.encode() not in data, f"{other}'s tenant name is in {tenant}.db"


def test_library_puts_each_tenant_in_its_own_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    config = MemoryConfig(
        database_url=f"file:{data}/{{tenant}}.db",
        cache_path=str(tmp_path / "cache"),
        embedding_provider="local",
    )
    with SelfLearningMemory.from_config(config) as memory:
        for tenant in TENANTS:
            for n in range(3):
                eid = memory.start_episode(f"{marker(tenant)} task {n}", tenant=tenant)
                step = {"step_number": 1, "tool": "editor", "action": f"edit {marker(tenant)}"}
                memory.log_step(eid, step, tenant=tenant)
                memory.complete_episode(
                    eid, TaskOutcome(type="success", verdict=marker(tenant)), tenant=tenant
                )
        for tenant in TENANTS:
            hits = memory.retrieve_relevant_context(marker(tenant), tenant=tenant)
            assert hits and all(marker(tenant) in h.episode.task_description for h in hits)
            other = next(t for t in TENANTS if t != tenant)
            seen = memory.retrieve_relevant_context(marker(other), tenant=tenant)
            assert all(marker(other) not in h.episode.task_description for h in seen)
    assert_isolated(data)


@pytest.mark.anyio
async def test_servers_route_tenants_to_their_own_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    envs = [
        memory_env(f"file:{data}/{{tenant}}.db", tmp_path / f"cache-{t}", MEMORY_TENANT=t)
        for t in TENANTS
    ]
    servers = Server.start_many(envs, "--stateless")
    try:
        for tenant, server in zip(TENANTS, servers, strict=True):
            async with Mcp(server.url) as mcp:
                for n in range(3):
                    await write_episode(mcp, n, domain=marker(tenant))
                health = await mcp.health()
                shards = health["memory"]["storage"]["detail"]["shards"]
                assert list(shards) == [tenant]  # opened lazily: only its own tenant
    finally:
        assert [s.stop() for s in servers] == [0, 0]
    assert_isolated(data)
