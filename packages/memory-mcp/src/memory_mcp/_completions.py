"""Argument completion: episode and pattern ids for the ``memory://`` templates, and the
known domains for the workflow prompt."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)
from memory_core import MemoryCoreError

from memory_mcp._runtime import Runtime

MAX_VALUES = 100  # the protocol's cap per completion


def register_completions(server: MCPServer, rt: Runtime) -> None:
    @server.completion()  # type: ignore[no-untyped-call, untyped-decorator]  # SDK decorator is untyped
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        prefix = argument.value
        try:
            if isinstance(ref, ResourceTemplateReference):
                if ref.uri == "memory://episodes/{episode_id}" and argument.name == "episode_id":
                    page = await rt.memory.list_episodes(None, MAX_VALUES, None, tenant=rt.tenant())
                    values = [str(s.id) for s in page.items]
                elif ref.uri == "memory://patterns/{pattern_id}" and argument.name == "pattern_id":
                    patterns = await rt.memory.list_patterns(None, MAX_VALUES, tenant=rt.tenant())
                    values = [str(p.id) for p in patterns]
                else:
                    return None
            elif ref.name == "memory_workflow" and argument.name == "domain":
                page = await rt.memory.list_episodes(None, MAX_VALUES, None, tenant=rt.tenant())
                values = list(dict.fromkeys(s.context.domain for s in page.items))
            else:
                return None
        except MemoryCoreError:
            return None
        matches = [v for v in values if v.startswith(prefix)]
        return Completion(
            values=matches[:MAX_VALUES], total=len(matches), has_more=len(matches) > MAX_VALUES
        )
