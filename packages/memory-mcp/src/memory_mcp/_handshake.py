"""The server's ``initialize`` answer, known without importing the MCP SDK.

Importing the SDK costs about 2 s of CPU (its protocol types build pydantic models for
several protocol revisions), twice the start-up budget, so the stdio front
(``_fast_stdio``) answers the handshake from these constants while the SDK imports.
Standard library only. Nothing here may drift from the SDK: ``tests/test_fast_handshake.py``
proves field for field that the SDK server answers the same, the front only answers when
the installed SDK is the verified release, and at run time it compares its answer with the
SDK's own answer to the same request and logs any difference.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from memory_mcp._version import __version__

VERIFIED_SDK = "2.3.0"
"""The ``mcp`` release these constants were checked against (it pins ``mcp-types``)."""

HANDSHAKE_PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
"""``mcp_types.version.HANDSHAKE_PROTOCOL_VERSIONS``: revisions reached through ``initialize``."""

LATEST_HANDSHAKE_VERSION = HANDSHAKE_PROTOCOL_VERSIONS[-1]

SERVER_INFO: dict[str, str] = {
    "name": "memory-mcp",
    "title": "Self-learning memory",
    "description": "Persistent, self-learning memory for coding agents.",
    "version": __version__,
}

CAPABILITIES: dict[str, dict[str, bool]] = {
    "completions": {},
    "logging": {},
    "prompts": {"listChanged": False},
    "resources": {"listChanged": False, "subscribe": True},
    "tools": {"listChanged": False},
}

INSTRUCTIONS = """\
Persistent, self-learning memory of past coding tasks. Around each task:
1. Before: call query_memory with the task description to get relevant past episodes,
   their key steps, patterns and heuristics.
2. Start: call create_episode (task_description; domain, task_type, language... if known).
3. During: call add_episode_step for each meaningful action (tool, action, result).
4. After: call complete_episode with outcome_type success, partial_success or failure.
5. If a retrieved pattern helped or misled you, call record_pattern_outcome.
"""

RequestId = int | str


def negotiate(requested: str) -> str:
    """The SDK's rule: the client's version if served, else the latest handshake version."""
    return requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION


def initialize_result(requested: str) -> dict[str, Any]:
    return {
        "protocolVersion": negotiate(requested),
        "capabilities": json.loads(json.dumps(CAPABILITIES)),
        "serverInfo": dict(SERVER_INFO),
        "instructions": INSTRUCTIONS,
    }


def parse_initialize(line: bytes) -> tuple[RequestId, str] | None:
    """``(id, requested version)`` when ``line`` is an ``initialize`` request the SDK is
    certain to accept, else None (the front then passes it through to the SDK untouched).

    Deliberately narrower than the SDK's validation: anything unusual (``_meta``, icons,
    a capability that is not an object, a float id...) is left to the SDK."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    if not isinstance(message, dict) or set(message) != {"jsonrpc", "id", "method", "params"}:
        return None
    request_id = message["id"]
    if message["jsonrpc"] != "2.0" or message["method"] != "initialize":
        return None
    if isinstance(request_id, bool) or not isinstance(request_id, int | str):
        return None
    params = message["params"]
    if not isinstance(params, dict) or set(params) != {
        "protocolVersion",
        "capabilities",
        "clientInfo",
    }:
        return None
    version, capabilities, client = (
        params["protocolVersion"],
        params["capabilities"],
        params["clientInfo"],
    )
    if not isinstance(version, str) or not _plain_capabilities(capabilities):
        return None
    if not _plain_implementation(client):
        return None
    return request_id, version


def _plain_capabilities(capabilities: object) -> bool:
    if not isinstance(capabilities, dict):
        return False
    if not all(isinstance(value, dict) for value in capabilities.values()):
        return False
    roots = capabilities.get("roots", {})
    return not ("listChanged" in roots and not isinstance(roots["listChanged"], bool))


def _plain_implementation(client: object) -> bool:
    if not isinstance(client, dict) or "icons" in client:
        return False
    if not isinstance(client.get("name"), str) or not isinstance(client.get("version"), str):
        return False
    return all(
        isinstance(client[key], str)
        for key in ("title", "description", "websiteUrl")
        if key in client
    )


def response_line(request_id: RequestId, requested: str) -> bytes:
    """The JSON-RPC response line, as compact as the SDK writes it."""
    response = {"jsonrpc": "2.0", "id": request_id, "result": initialize_result(requested)}
    return json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def sdk_is_verified() -> bool:
    """True when the installed ``mcp`` is the release the constants were verified against."""
    return installed_sdk_version() == VERIFIED_SDK


def installed_sdk_version() -> str | None:
    """``importlib.metadata.version("mcp")`` without its cost on the start-up path
    (importing it and parsing METADATA takes 40-100 ms here): the first ``mcp-*.dist-info``
    directory along ``sys.path``, the order importlib.metadata searches in."""
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if not name.endswith(".dist-info"):
                continue
            project, _, release = name.removesuffix(".dist-info").rpartition("-")
            if re.sub(r"[-_.]+", "-", project).lower() == "mcp":
                return release
    return None
