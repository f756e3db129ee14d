"""Health and metrics: the ``memory://health`` and ``memory://metrics`` resources in every
profile, and the ``health_check`` / ``get_metrics`` tools in the ``full`` profile only.

They are for operators and dashboards, not for an agent's task, so the ``core`` profile
keeps them out of ``tools/list`` (every listed tool costs the agent context); the same
answers stay one resource read (or ``memory health`` / ``memory metrics``) away.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from memory_core import HealthReport, MemoryCoreError

from memory_mcp._outputs import GetMetricsResult, HealthCheckResult, ToolCallStats
from memory_mcp._runtime import Runtime
from memory_mcp._tenancy import tenant_health, tenant_metrics
from memory_mcp._tools import READ_ONLY, _mapped


def register_monitoring(server: MCPServer, rt: Runtime, profile: str) -> None:
    """The two resources always; the two tools when ``profile`` is ``full``."""

    async def health_check() -> HealthCheckResult:
        """Storage, cache and embeddings status, queue depth, versions, warm-up state."""

        def result(report: HealthReport | None, error: str | None = None) -> HealthCheckResult:
            return HealthCheckResult(
                ok=report is not None and report.ok,
                server_version=rt.version,
                transport=rt.metrics.transport,
                uptime_seconds=round(rt.metrics.uptime_seconds, 3),
                warmup=rt.warmup.status(),
                memory=report,
                error=error,
            )

        try:
            report: HealthReport = await rt.memory.health()
        except MemoryCoreError as exc:
            return result(None, f"{type(exc).__name__}: {exc}")
        return result(tenant_health(report) if rt.multi_tenant else report)

    async def get_metrics() -> GetMetricsResult:
        """Operation counts, latency percentiles, cache hit rate, episode/pattern counts."""
        tenant = rt.tenant()
        core = await rt.memory.metrics(tenant=tenant)
        server_metrics = rt.metrics
        if rt.multi_tenant and tenant is not None:  # security: only the caller's tenant
            core = tenant_metrics(core)
            server_metrics = server_metrics.for_tenant(tenant)
        return GetMetricsResult(
            uptime_seconds=round(rt.metrics.uptime_seconds, 3),
            tools={
                k: ToolCallStats.model_validate(v)
                for k, v in server_metrics.tool_snapshot().items()
            },
            core=core,
            cache_hit_rate=core.cache.get("hit_rate"),
            collected_at=datetime.now(UTC),
        )

    if profile == "full":
        server.tool(annotations=READ_ONLY, title="Health check")(health_check)
        server.tool(annotations=READ_ONLY, title="Get metrics")(_mapped(get_metrics))

    @server.resource(
        "memory://health",
        name="health",
        title="Health",
        description="Storage, cache and embeddings status, versions, warm-up (as health_check).",
        mime_type="application/json",
    )
    async def health_resource() -> str:
        return (await health_check()).model_dump_json(indent=2)

    @server.resource(
        "memory://metrics",
        name="metrics",
        title="Metrics",
        description="Operation counts, latencies, cache hit rate, counts (as get_metrics).",
        mime_type="application/json",
    )
    async def metrics_resource() -> str:
        try:
            return (await get_metrics()).model_dump_json(indent=2)
        except MemoryCoreError as exc:
            raise ResourceError(f"cannot read metrics: {exc}") from exc
