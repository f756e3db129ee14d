"""No file path or database URL in what a client sees when storage fails: the
unauthenticated ``/health`` and tool errors carry the reason, the log carries the path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from mcp import Client
from memory_test_utils import ServerProcess

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_storage_failure_does_not_reveal_the_database_path(
    data_dir: Path, http_factory: Callable[..., ServerProcess]
) -> None:
    blocker = data_dir / "secret-location-7f3a"
    blocker.write_text("a file where the database directory should be")
    database = blocker / "memory.db"
    server = http_factory(data_dir, DATABASE_URL=f"file:{database}")
    httpx.get(f"{server.base}/health", timeout=30)  # the first probe starts the warm-up
    assert server.lines.wait_for("warm-up failed") is not None
    log = server.stderr
    assert "secret-location-7f3a" in log  # the operator's log keeps the location

    health = httpx.get(f"{server.base}/health", timeout=30)
    assert health.status_code == 503
    body = health.json()
    assert body["warmup"]["state"] == "failed" and body["warmup"]["error"]
    assert "secret-location-7f3a" not in health.text and str(data_dir) not in health.text

    async with Client(server.url) as client:
        result = await client.call_tool("query_memory", {"query": "anything"})
    assert result.is_error
    text = " ".join(getattr(c, "text", "") for c in result.content)
    assert "storage" in text or "misconfigured" in text
    assert "secret-location-7f3a" not in text and str(data_dir) not in text
