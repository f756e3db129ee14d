"""Handshake-era client features: resource subscriptions (an episode's URI is notified
when a step is logged), logging/setLevel with log notifications, argument completion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.session import IncomingMessage
from mcp.client.stdio import StdioServerParameters
from mcp.types import (
    LoggingMessageNotificationParams,
    PromptReference,
    ResourceTemplateReference,
    ResourceUpdatedNotification,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings(
        "ignore::mcp.shared.exceptions.MCPDeprecationWarning"
    ),  # old-protocol features on purpose
]


async def test_subscribe_logging_and_completion(
    data_dir: Path, stdio: Callable[..., StdioServerParameters]
) -> None:
    updated: list[str] = []
    got_update = anyio.Event()
    logs: list[LoggingMessageNotificationParams] = []
    got_log = anyio.Event()

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updated.append(str(message.params.uri))
            got_update.set()

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(params)
        got_log.set()

    async with Client(
        stdio(data_dir), mode="legacy", message_handler=on_message, logging_callback=on_log
    ) as c:
        caps = c.server_capabilities
        assert caps.resources is not None and caps.resources.subscribe is True
        assert caps.logging is not None and caps.completions is not None

        created = await c.call_tool(
            "create_episode", {"task_description": "subscribe demo", "domain": "docs"}
        )
        eid = created.structured_content["episode_id"]  # type: ignore[index]
        uri = f"memory://episodes/{eid}"
        await c.subscribe_resource(uri)
        await c.call_tool("add_episode_step", {"episode_id": eid, "tool": "edit"})
        with anyio.fail_after(30):
            await got_update.wait()
        assert uri in updated

        await c.unsubscribe_resource(uri)
        updated.clear()
        await c.set_logging_level("info")
        await c.call_tool("complete_episode", {"episode_id": eid, "outcome_type": "success"})
        with anyio.fail_after(30):
            await got_log.wait()
        assert uri not in updated  # unsubscribed: no more updates for it
        assert any(eid in str(p.data) and p.level == "info" for p in logs)

        done = await c.complete(
            ResourceTemplateReference(uri="memory://episodes/{episode_id}"),
            {"name": "episode_id", "value": eid[:8]},
        )
        assert done.completion.values == [eid]
        none = await c.complete(
            ResourceTemplateReference(uri="memory://episodes/{episode_id}"),
            {"name": "episode_id", "value": "zz"},
        )
        assert none.completion.values == []
        domains = await c.complete(
            PromptReference(name="memory_workflow"), {"name": "domain", "value": "do"}
        )
        assert domains.completion.values == ["docs"]


async def test_listen_stream_gets_step_updates(
    data_dir: Path, stdio: Callable[..., StdioServerParameters]
) -> None:
    """A 2026 client's subscriptions/listen stream is told of a logged step (the server's
    bus skips publishing only while no stream is open)."""
    async with Client(stdio(data_dir)) as c:
        created = await c.call_tool("create_episode", {"task_description": "listen demo"})
        eid = created.structured_content["episode_id"]  # type: ignore[index]
        uri = f"memory://episodes/{eid}"
        async with c.listen(resource_subscriptions=[uri]) as sub:
            await c.call_tool("add_episode_step", {"episode_id": eid, "tool": "edit"})
            with anyio.fail_after(30):
                event = await anext(sub)
        assert uri in str(event)
        # the stream is closed: logging another step must still work
        await c.call_tool("add_episode_step", {"episode_id": eid, "tool": "edit"})
