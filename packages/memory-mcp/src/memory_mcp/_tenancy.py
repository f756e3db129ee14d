"""Who is calling: the ``Caller`` of the current MCP request and its tenant.

``CallGuard`` sets the caller for the duration of each request (a context variable, so it
follows the request through middleware, tool functions and, via
``AsyncSelfLearningMemory.run``, onto the memory's worker thread). Over authenticated HTTP
the caller comes from the verified bearer token and the tenant from the token only, never
from a tool argument; on stdio and unauthenticated HTTP the tenant is the configured one.

The views at the bottom strip process-wide numbers (operation counters, cache statistics,
queue depth, storage location) from what one tenant sees when several share a server.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Literal

from memory_core import HealthReport, MetricsSnapshot
from memory_core.security import AuthenticationError

Scope = Literal["read", "write", "admin"]
_RANK: dict[str, int] = {"read": 0, "write": 1, "admin": 2}


@dataclass(frozen=True)
class Caller:
    """The principal of one request. ``tenant`` None means the configured tenant;
    ``scope`` None means unrestricted (stdio, or HTTP without authentication)."""

    principal: str
    tenant: str | None = None
    scope: Scope | None = None
    token_id: str | None = None

    def allows(self, required: Scope) -> bool:
        return self.scope is None or _RANK[self.scope] >= _RANK[required]


_CALLER: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "memory_mcp_caller", default=None
)


def current_caller() -> Caller | None:
    return _CALLER.get()


def set_caller(caller: Caller) -> contextvars.Token[Caller | None]:
    return _CALLER.set(caller)


def reset_caller(token: contextvars.Token[Caller | None]) -> None:
    _CALLER.reset(token)


def caller_tenant() -> str | None:
    """The tenant resolver of an authenticated server: the token's tenant, or an error
    (never the configured tenant: a request without a verified token reads nothing)."""
    caller = _CALLER.get()
    if caller is None or caller.tenant is None:
        raise AuthenticationError("no authenticated caller for this request")
    return caller.tenant


def tenant_or_none() -> str | None:
    """For bookkeeping (metrics): the caller's tenant when known; never raises."""
    caller = _CALLER.get()
    return caller.tenant if caller is not None else None


def tenant_metrics(core: MetricsSnapshot) -> MetricsSnapshot:
    """A tenant's view of ``memory.metrics(tenant=...)``: its own counts only. Operation
    counters, cache statistics and the extraction queue are process-wide, so they go."""
    return core.model_copy(update={"operations": {}, "cache": {}, "queue_depth": 0})


def tenant_health(report: HealthReport) -> HealthReport:
    """A tenant's view of the health report: component status and backend names, without
    process-wide details (database location, cache entry counts, queue depth)."""

    def strip(component: object) -> object:
        return component.model_copy(update={"detail": {}})  # type: ignore[attr-defined]

    return report.model_copy(
        update={
            "storage": strip(report.storage),
            "cache": strip(report.cache),
            "queue_depth": 0,
        }
    )
