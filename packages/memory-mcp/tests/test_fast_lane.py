"""The stdio fast lane (``memory_mcp._fast_lane``): plain calls of ``query_memory`` and
``get_episode`` are answered without the event loop, with the SDK's own bytes.

Over a real ``memory-mcp`` on stdio (raw JSON-RPC lines, a handshake-era protocol, as
Claude Code speaks it): the lane's answer equals the SDK's answer to the same call
(forced through the SDK with ``_meta``), errors stay the SDK's, a call sent right behind
an unanswered write waits for it, and a call in flight at the end of stdin is answered.
In process, on the real server and memory: a cancelled call is never answered.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp_types import JSONRPCNotification, JSONRPCRequest, JSONRPCResponse
from memory_core import MemoryConfig, SelfLearningMemory
from memory_mcp._fast_lane import FastLane
from memory_mcp._server import build_server
from memory_test_utils import StdioLines

ANSWERED = "fast lane answered"
TASK = "add a token-bucket rate limiter to the HTTP API"


def call(request_id: int | str, tool: str, arguments: dict[str, Any], **params: Any) -> str:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments, **params},
        }
    )


def cancel(request_id: int | str) -> str:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": request_id, "reason": "test"},
        }
    )


class Raw(StdioLines):
    """``memory-mcp`` on stdio spoken to in lines, logging at DEBUG (the lane's marks)."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        super().__init__(data_dir, **{"MEMORY_LOG_LEVEL": "DEBUG", **env})
        self.write(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": "init",
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {},
                        "clientInfo": {"name": "fast-lane-test", "version": "0"},
                    },
                }
            )
        )
        assert self.reply()["id"] == "init"
        self.write('{"jsonrpc":"2.0","method":"notifications/initialized"}')
        assert self.log.wait_for("stdio fast lane open") is not None, "".join(self.log)
        assert self.request("tools/list", {})["tools"]
        self.seeded: list[str] = []

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.write(json.dumps({"jsonrpc": "2.0", "id": method, "method": method, "params": params}))
        reply = self.reply()
        assert reply["id"] == method, reply
        result: dict[str, Any] = reply["result"]
        return result

    def tool(
        self, request_id: int | str, name: str, arguments: dict[str, Any], **params: Any
    ) -> Any:
        self.write(call(request_id, name, arguments, **params))
        reply = self.reply()
        assert reply["id"] == request_id, reply
        return reply["result"]

    def lane_answers(self) -> int:
        return sum(ANSWERED in line for line in self.log)


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = Raw(tmp_path_factory.mktemp("fast-lane"))
    for k in range(3):
        done = server.tool(
            f"seed{k}",
            "record_episode",
            {
                "task_description": f"{TASK}, variant {k}",
                "steps": [{"tool": "edit_file", "action": "add the limiter", "result": "ok"}],
                "outcome_type": "success",
            },
        )
        assert not done.get("isError"), done
        server.seeded.append(done["structuredContent"]["episode_id"])
    yield server
    server.close()


def output_schema(tool: str) -> dict[str, Any]:
    """The tool's output schema as the SDK holds it (the core listing leaves it out)."""
    config = MemoryConfig(database_url="file::memory:")
    server, _ = build_server(config, memory=SelfLearningMemory())
    registered = server._tool_manager.get_tool(tool)
    assert registered is not None and registered.output_schema is not None
    return registered.output_schema


def test_lane_answers_as_the_sdk_does(raw: Raw) -> None:
    """The same call through the lane and (``_meta`` sends it to the SDK) through the SDK:
    the same result, and its structuredContent validates against the listed schema."""
    for name, arguments in [
        ("query_memory", {"query": "rate limiter for an HTTP API", "limit": 3}),
        ("get_episode", {"episode_id": raw.seeded[0]}),
    ]:
        for attempt in range(5):  # until the store is still (vectors are written after writes)
            before = raw.lane_answers()
            sdk = raw.tool(f"sdk-{name}-{attempt}", name, arguments, _meta={})
            lane = raw.tool(f"lane-{name}-{attempt}", name, arguments)
            assert raw.log.wait_for(f"{ANSWERED} {name}", timeout=10) is not None
            again = raw.tool(f"again-{name}-{attempt}", name, arguments, _meta={})
            assert raw.lane_answers() == before + 1, "only the call without _meta is the lane's"
            if sdk == again:
                break
        assert sdk == again, "the store did not settle"
        assert lane == sdk
        assert not lane.get("isError") and lane["structuredContent"]
        jsonschema.validate(lane["structuredContent"], output_schema(name))


def test_errors_are_the_sdks(raw: Raw) -> None:
    """Invalid arguments, an unknown episode, a bad time window: the SDK's error results."""
    before = raw.lane_answers()
    bad_limit = raw.tool("e1", "query_memory", {"query": "x", "limit": 500})
    assert bad_limit["isError"] and "invalid argument limit" in bad_limit["content"][0]["text"]
    missing = raw.tool("e2", "get_episode", {"episode_id": "00000000-0000-4000-8000-000000000000"})
    assert missing["isError"] and "episode not found" in missing["content"][0]["text"]
    window = raw.tool("e3", "query_memory", {"query": "x", "since": "a fortnight-ish"})
    assert window["isError"] and "since" in window["content"][0]["text"]
    assert raw.lane_answers() == before
    unknown = raw.tool("e4", "no_such_tool", {})
    assert unknown["isError"], unknown


def test_a_call_behind_an_unanswered_write_waits_for_it(raw: Raw) -> None:
    """Delete and get sent together: the get (a lane tool) must see the deletion."""
    created = raw.tool("c", "create_episode", {"task_description": "to be deleted"})
    eid = created["structuredContent"]["episode_id"]
    raw.write(
        call("del", "delete_episode", {"episode_id": eid, "confirm": True}),
        call("get", "get_episode", {"episode_id": eid}),
    )
    replies = {r["id"]: r for r in (raw.reply(), raw.reply())}
    assert replies["del"]["result"]["structuredContent"]["deleted"] is True
    assert replies["get"]["result"]["isError"], replies["get"]
    assert "episode not found" in replies["get"]["result"]["content"][0]["text"]


@pytest.mark.parametrize("front", ["1", "0"], ids=["front", "sdk-handshake"])
def test_a_call_in_flight_at_the_end_of_stdin_is_answered(tmp_path: Path, front: str) -> None:
    """The lane's call gets its result; one whose body fails goes back to the session
    before the session ends, and gets the SDK's answer to a request in flight at the end
    (a JSON-RPC error), never silence. Also with the stdio front off."""
    server = Raw(tmp_path, MEMORY_MCP_FAST_HANDSHAKE=front)
    server.write(
        call("last", "query_memory", {"query": "anything"}),
        call("failing", "query_memory", {"query": "anything", "since": "a fortnight-ish"}),
    )
    assert server.proc.stdin is not None
    server.proc.stdin.close()
    replies = {r["id"]: r for r in (server.reply(), server.reply())}
    assert not replies["last"]["result"].get("isError"), replies
    failing = replies["failing"]
    assert failing.get("result", {}).get("isError") or failing["error"]["code"] == -32000, failing
    assert server.proc.wait(timeout=60) == 0, "".join(server.log)
    assert any(ANSWERED in line for line in server.log)


def test_lane_off_over_http_and_when_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = MemoryConfig(database_url=f"file:{tmp_path / 'memory.db'}")
    assert build_server(config, memory=SelfLearningMemory(), transport="http")[1].lane is None
    monkeypatch.setenv("MEMORY_MCP_FAST_LANE", "0")
    assert build_server(config, memory=SelfLearningMemory())[1].lane is None


class _Lines:
    """The pump's side of a lane, in process: what it hands to the session, what it writes."""

    def __init__(self) -> None:
        self.handed: list[str] = []
        self.written: list[str] = []


def _lane(tmp_path: Path) -> tuple[FastLane, _Lines, Any]:
    memory = SelfLearningMemory()
    memory.start_episode(TASK)
    config = MemoryConfig(database_url=f"file:{tmp_path / 'memory.db'}")
    _, rt = build_server(config, memory=memory)
    assert rt.lane is not None
    lines = _Lines()
    rt.lane.bind(lines.handed.append, lines.written.append)
    rt.lane.open("2025-06-18")
    return rt.lane, lines, rt


def test_cancelled_lane_call_is_not_answered(tmp_path: Path) -> None:
    async def scenario() -> None:
        lane, lines, rt = _lane(tmp_path)
        busy = threading.Event()
        rt.memory.submit(busy.wait, 30)  # the worker is busy: the calls queue
        assert lane.take(call(1, "query_memory", {"query": TASK}))
        assert lane.take(call(2, "query_memory", {"query": TASK}))
        assert lane.take(cancel(2)), "a cancellation of a lane call is the lane's"
        assert not lane.take(cancel(99)), "any other goes to the session"
        busy.set()
        await asyncio.to_thread(lane.drain)
        answered = [json.loads(line)["id"] for line in lines.written]
        assert answered == [1]
        assert lines.handed == [], "nothing fell back to the session"

    asyncio.run(scenario())


def test_lane_waits_while_the_session_owes_an_answer(tmp_path: Path) -> None:
    """Every line the lane declines is on its way to the session until the session reads
    it, and a request it read is owed until answered (or cancelled): meanwhile the
    session gets the lane's lines too, so nothing overtakes earlier work."""

    def query(request_id: int) -> str:
        return call(request_id, "query_memory", {"query": TASK})

    async def scenario() -> None:
        lane, lines, _ = _lane(tmp_path)
        write = call(4, "create_episode", {"task_description": "x"})
        assert not lane.take(write), "not a lane tool"
        assert not lane.take(query(3)), "a line is on its way to the session"
        lane.received(JSONRPCRequest.model_validate_json(write))
        lane.received(JSONRPCRequest.model_validate_json(query(3)))
        assert not lane.take(query(5)), "the session owes two answers"
        lane.received(JSONRPCRequest.model_validate_json(query(5)))
        lane.answered(JSONRPCResponse(jsonrpc="2.0", id=4, result={}))
        lane.answered(JSONRPCResponse(jsonrpc="2.0", id=3, result={}))
        assert not lane.take(query(6)), "still owes 5"
        lane.received(JSONRPCRequest.model_validate_json(query(6)))
        lane.answered(JSONRPCResponse(jsonrpc="2.0", id=6, result={}))
        assert not lane.take(cancel(5)), "the session's request: its cancellation too"
        lane.received(JSONRPCNotification.model_validate_json(cancel(5)))
        assert lane.take(query(7)), "5 was cancelled: nothing is owed"
        await asyncio.to_thread(lane.drain)
        assert [json.loads(x)["id"] for x in lines.written] == [7]
        lane.close()
        assert not lane.take(query(8)), "closed: the session's"

    asyncio.run(scenario())
