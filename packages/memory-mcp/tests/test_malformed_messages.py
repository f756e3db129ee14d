"""Every JSON-RPC message gets an answer: a line that is not a valid message is answered
with -32700 (not JSON) or -32600 (not a valid message), logged at WARNING with the reason,
and the connection carries on. Over a real ``memory-mcp`` on stdio (with the fast
handshake front and without it) and over HTTP, where the same bytes get a 400 with the
same JSON-RPC error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from memory_mcp._jsonrpc_check import MAX_DEPTH, Refusal, check
from memory_test_utils import ServerProcess, StdioLines

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": "init",
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "malformed-test", "version": "0"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def nested(levels: int) -> str:
    """A ping nested ``levels`` deep (the envelope is level 1, params level 2)."""
    inner = '{"a":' * (levels - 1) + "1" + "}" * (levels - 1)
    return '{"jsonrpc":"2.0","id":41,"method":"ping","params":' + inner + "}"


# (line, expected code, expected id, a word the reason must hold)
MALFORMED: dict[str, tuple[str, int, int | str | None, str]] = {
    "not-json": ('{"jsonrpc":"2.0","id":1,', -32700, None, "not valid JSON"),
    "garbage": ("hello", -32700, None, "not valid JSON"),
    "params-list": ('{"jsonrpc":"2.0","id":2,"method":"ping","params":[1]}', -32600, 2, "params"),
    "jsonrpc-1.0": ('{"jsonrpc":"1.0","id":3,"method":"ping"}', -32600, 3, "jsonrpc"),
    "jsonrpc-missing": ('{"id":4,"method":"ping"}', -32600, 4, "jsonrpc"),
    "id-float": ('{"jsonrpc":"2.0","id":1.5,"method":"ping"}', -32600, None, "id must be"),
    "id-null": ('{"jsonrpc":"2.0","id":null,"method":"ping"}', -32600, None, "id must be"),
    "id-bool": ('{"jsonrpc":"2.0","id":true,"method":"ping"}', -32600, None, "id must be"),
    "id-object": ('{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', -32600, None, "id must be"),
    "lone-surrogate": (
        '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"query_memory",'
        '"arguments":{"query":"x\\ud800"}}}',
        -32600,
        5,
        "surrogate",
    ),
    "surrogate-id": ('{"jsonrpc":"2.0","id":"\\udc00","method":"ping"}', -32600, None, "id"),
    "nesting-201": (nested(MAX_DEPTH + 1), -32600, 41, "nested"),
    "nesting-100000": (nested(100_000), -32700, None, "nested"),
    "batch": ('[{"jsonrpc":"2.0","id":6,"method":"ping"}]', -32600, None, "batch"),
    "empty-batch": ("[]", -32600, None, "batch"),
    "scalar": (
        "9137",
        -32600,
        None,
        "JSON object",
    ),  # a number no timestamp holds: the log check greps for it
    "method-number": ('{"jsonrpc":"2.0","id":7,"method":7}', -32600, 7, "method"),
    "no-method": ('{"jsonrpc":"2.0","id":8}', -32600, None, "method"),
    "bad-notification": ('{"jsonrpc":"2.0","method":"x","params":"p"}', -32600, None, "params"),
}


def test_depth_limit_is_the_sdks() -> None:
    """Nested as deep as the limit is a valid message; one level more is refused."""
    assert not isinstance(check(nested(MAX_DEPTH)), Refusal)
    assert isinstance(check(nested(MAX_DEPTH + 1)), Refusal)


class Stdio(StdioLines):
    """A ``memory-mcp`` on stdio after the handshake; one line in, its answer out."""

    def __init__(self, data_dir: Path, first: str | None = None, **env: str) -> None:
        super().__init__(data_dir, **env)
        if first is not None:
            self.first = self.send(first)
        reply = self.send(json.dumps(INITIALIZE))
        assert reply["id"] == "init" and "result" in reply, reply
        self.write(json.dumps(INITIALIZED))

    def send(self, line: str) -> dict[str, Any]:
        """The next line the server writes; a dropped message fails here, not hangs."""
        self.write(line)
        return self.reply()


@pytest.fixture(scope="module")
def stdio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stdio]:
    server = Stdio(tmp_path_factory.mktemp("malformed-stdio"))
    yield server
    server.close()


def assert_refused(reply: dict[str, Any], case: str) -> None:
    _, code, request_id, word = MALFORMED[case]
    assert reply["jsonrpc"] == "2.0" and "result" not in reply, reply
    assert reply["id"] == request_id, reply
    assert reply["error"]["code"] == code, reply
    assert word in reply["error"]["message"], reply


@pytest.mark.parametrize("case", list(MALFORMED))
def test_stdio_answers_every_malformed_message(stdio_server: Stdio, case: str) -> None:
    """Answered with the right code and id, logged at WARNING with the reason, and the
    session still serves the next request."""
    line = MALFORMED[case][0]
    seen = len(stdio_server.log)
    reply = stdio_server.send(line)
    assert_refused(reply, case)
    warning = stdio_server.log.wait_for(f"{reply['error']['code']} ", timeout=10)
    assert warning is not None and "WARNING" in warning, "".join(stdio_server.log[seen:])
    assert "refused a JSON-RPC message over stdio" in warning
    assert line[:40] not in "".join(stdio_server.log), "the log must not quote the message"
    assert stdio_server.send('{"jsonrpc":"2.0","id":"after","method":"ping"}') == {
        "jsonrpc": "2.0",
        "id": "after",
        "result": {},
    }


@pytest.mark.parametrize("fast", ["1", "0"], ids=["front", "sdk-handshake"])
def test_malformed_first_line(data_dir: Path, fast: str) -> None:
    """The stdio front passes a malformed opening line on; it is answered, and the handshake
    after it still works, with the fast handshake on and off."""
    server = Stdio(data_dir, first=MALFORMED["params-list"][0], MEMORY_MCP_FAST_HANDSHAKE=fast)
    assert_refused(server.first, "params-list")
    assert_refused(server.send(MALFORMED["id-float"][0]), "id-float")
    server.close()
    assert "answered by the stdio front" not in "".join(server.log)


@pytest.mark.parametrize("case", ["not-json", "params-list", "id-float", "lone-surrogate"])
def test_http_answers_the_same_bytes_400(http_server: ServerProcess, case: str) -> None:
    """Over HTTP the same bytes get a 400 whose body is the same JSON-RPC error."""
    response = httpx.post(
        http_server.url,
        content=MALFORMED[case][0].encode(),
        headers={
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
        },
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert_refused(response.json(), case)
    assert "refused a JSON-RPC message over http" in http_server.stderr
