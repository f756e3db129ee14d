"""The /metrics text follows Prometheus conventions: durations in seconds, `_seconds` names."""

from __future__ import annotations

import re

from memory_mcp import ServerMetrics, render_prometheus


def test_tool_durations_are_seconds_with_sum_and_count() -> None:
    metrics = ServerMetrics("stdio")
    for elapsed_ms in (250.0, 250.0, 750.0):
        metrics.record("query_memory", elapsed_ms, error=False)
    text = render_prometheus(metrics, None, "0.1.0")

    assert "# TYPE memory_mcp_tool_duration_seconds summary" in text
    assert 'memory_mcp_tool_duration_seconds{tool="query_memory",quantile="0.5"} 0.250000' in text
    assert 'memory_mcp_tool_duration_seconds_sum{tool="query_memory"} 1.250000' in text
    assert 'memory_mcp_tool_duration_seconds_count{tool="query_memory"} 3' in text
    assert "_ms" not in text


def test_every_sample_line_is_well_formed() -> None:
    metrics = ServerMetrics("http")
    metrics.record('odd "tool"\nname', 1.5, error=True)
    sample = re.compile(r'^[a-z_:][a-z0-9_:]*(\{([a-z_]+="([^"\\\n]|\\.)*",?)*\})? -?[0-9.e+]+$')
    for line in render_prometheus(metrics, None, "0.1.0").splitlines():
        if not line.startswith("#"):
            assert sample.match(line), line


def test_retrievals_are_counted_by_the_relevance_floor() -> None:
    from memory_core import MemoryConfig, SelfLearningMemory, TaskContext, TaskOutcome

    with SelfLearningMemory.from_config(
        MemoryConfig(database_url="memory:", embedding_provider="local")
    ) as memory:
        eid = memory.start_episode("Add a /health endpoint to the API", TaskContext())
        memory.complete_episode(eid, TaskOutcome.success("done"))
        memory.retrieve_relevant_context("add a health endpoint")
        memory.query("knit a woollen scarf for the winter")
        memory.query("bake sourdough bread at home")
        text = render_prometheus(ServerMetrics("stdio"), memory.metrics(), "0.1.0")
    assert 'memory_core_retrievals_total{result="above_floor"} 1' in text
    assert 'memory_core_retrievals_total{result="below_floor"} 2' in text
