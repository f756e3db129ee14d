"""Resources: each episode and pattern readable at a ``memory://`` URI, plus a recent list."""

from __future__ import annotations

import json
from uuid import UUID

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from memory_core import Episode, MemoryCoreError, NotFoundError

from memory_mcp._runtime import Runtime

RECENT_EPISODES = 50


def _uuid(kind: str, raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise ResourceNotFoundError(f"{kind} not found: {raw!r} is not a UUID") from None


def register_resources(server: MCPServer, rt: Runtime) -> None:
    @server.resource(
        "memory://episodes/{episode_id}",
        name="episode",
        title="Episode",
        description="One episode as JSON: context, steps, outcome, reward, reflection.",
        mime_type="application/json",
    )
    async def episode(episode_id: str) -> str:
        try:
            ep: Episode = await rt.memory.get_episode(
                _uuid("episode", episode_id), tenant=rt.tenant()
            )
        except NotFoundError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except MemoryCoreError as exc:
            raise ResourceError(f"cannot read episode {episode_id}: {exc}") from exc
        return ep.model_dump_json(indent=2)

    @server.resource(
        "memory://patterns/{pattern_id}",
        name="pattern",
        title="Pattern",
        description="One learned pattern as JSON, with its evidence and statistics.",
        mime_type="application/json",
    )
    async def pattern(pattern_id: str) -> str:
        try:
            p = await rt.memory.get_pattern(_uuid("pattern", pattern_id), tenant=rt.tenant())
        except NotFoundError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except MemoryCoreError as exc:
            raise ResourceError(f"cannot read pattern {pattern_id}: {exc}") from exc
        data = p.model_dump(mode="json")
        data |= {
            "success_rate": p.success_rate,
            "confidence": p.confidence,
            "effectiveness": p.effectiveness,
        }
        return json.dumps(data, indent=2)

    @server.resource(
        "memory://episodes",
        name="recent-episodes",
        title="Recent episodes",
        description=f"The {RECENT_EPISODES} most recent episode summaries, with their URIs.",
        mime_type="application/json",
    )
    async def recent_episodes() -> str:
        try:
            page = await rt.memory.list_episodes(None, RECENT_EPISODES, None, tenant=rt.tenant())
        except MemoryCoreError as exc:
            raise ResourceError(f"cannot list episodes: {exc}") from exc
        items = [
            {"uri": f"memory://episodes/{s.id}", **s.model_dump(mode="json")} for s in page.items
        ]
        return json.dumps({"episodes": items, "next_cursor": page.next_cursor}, indent=2)
