"""The server's handshake answers, known without importing the MCP SDK.

Importing the SDK costs about 2 s of CPU (its protocol types build pydantic models for
several protocol revisions), twice the start-up budget, so the stdio front
(``_fast_stdio``) answers a client's opening request from these constants while the SDK
imports: ``initialize`` (protocol 2024-11-05 to 2025-11-25) and ``server/discover``
(2026-07-28, what the Python SDK 2.x client sends first). Standard library only.

Nothing here may drift from the SDK: ``tests/test_fast_handshake.py`` proves field for field
that the SDK server answers the same; the front only answers when the installed SDK is the
verified release, or another 2.x release whose protocol-version tables (read from
``mcp_types/version.py`` as text, not imported) equal these; and at run time it compares its
answer with the SDK's own answer to the replayed request and logs any difference.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from typing import Any, NamedTuple

from memory_mcp._version import __version__

logger = logging.getLogger("memory_mcp")

VERIFIED_SDK = "2.3.0"
"""The ``mcp`` release these constants were checked against (it pins ``mcp-types``)."""

HANDSHAKE_PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
"""``mcp_types.version.HANDSHAKE_PROTOCOL_VERSIONS``: revisions reached through ``initialize``."""

LATEST_HANDSHAKE_VERSION = HANDSHAKE_PROTOCOL_VERSIONS[-1]

MODERN_PROTOCOL_VERSIONS = ("2026-07-28",)
"""``mcp_types.version.MODERN_PROTOCOL_VERSIONS``: every request carries its own envelope."""

ENVELOPE = "io.modelcontextprotocol/"
"""Prefix of the 2026 per-request ``_meta`` keys (protocolVersion, clientInfo, ...)."""

SERVER_INFO: dict[str, str] = {
    "name": "memory-mcp",
    "title": "Self-learning memory",
    "description": "Persistent, self-learning memory for coding agents.",
    "version": __version__,
}

_CAPABILITIES = ("completions", "logging", "prompts", "resources", "tools")


def capabilities(modern: bool) -> dict[str, dict[str, bool]]:
    """What the server registers; at 2026 versions change notifications are served on
    ``subscriptions/listen``, so the SDK reports ``listChanged`` as true there."""
    changes = {"listChanged": modern}
    return {
        "completions": {},
        "logging": {},
        "prompts": dict(changes),
        "resources": {**changes, "subscribe": True},
        "tools": dict(changes),
    }


INSTRUCTIONS = """\
Persistent, self-learning memory of past coding tasks. Around each task:
1. Before: call query_memory with the task description to get relevant past episodes,
   their key steps, patterns and heuristics.
2. After: call record_episode once with the task, the steps you took (tool, action,
   result) and the outcome: success, partial_success or failure.
   For a long task, record as you go instead: create_episode, add_episode_step per
   action, complete_episode.
3. If a retrieved pattern helped or misled you, call record_pattern_outcome.
"""

RequestId = int | str


class Opening(NamedTuple):
    """A client's first request, as far as the front needs it."""

    id: RequestId
    method: str
    """``initialize`` or ``server/discover``."""
    protocol_version: str


def negotiate(requested: str) -> str:
    """The SDK's rule: the client's version if served, else the latest handshake version."""
    return requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION


def initialize_result(requested: str) -> dict[str, Any]:
    return {
        "protocolVersion": negotiate(requested),
        "capabilities": capabilities(modern=False),
        "serverInfo": dict(SERVER_INFO),
        "instructions": INSTRUCTIONS,
    }


def discover_result() -> dict[str, Any]:
    return {
        "supportedVersions": list(MODERN_PROTOCOL_VERSIONS),
        "capabilities": capabilities(modern=True),
        "instructions": INSTRUCTIONS,
        "cacheScope": "private",
        "ttlMs": 0,
        "resultType": "complete",
        "_meta": {ENVELOPE + "serverInfo": dict(SERVER_INFO)},
    }


def response_line(opening: Opening) -> bytes:
    """The JSON-RPC response line, as compact as the SDK writes it."""
    if opening.method == "initialize":
        result = initialize_result(opening.protocol_version)
    else:
        result = discover_result()
    response = {"jsonrpc": "2.0", "id": opening.id, "result": result}
    return json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def parse_opening(line: bytes) -> Opening | None:
    """The opening request when ``line`` is an ``initialize`` or a 2026 ``server/discover``
    the SDK is certain to accept, else None (the front then passes it through untouched).

    Deliberately narrower than the SDK's validation: anything unusual (``_meta`` on
    initialize, icons, a capability that is not an object, a float id...) is left to the SDK."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than json can parse
        return None
    if not isinstance(message, dict) or set(message) != {"jsonrpc", "id", "method", "params"}:
        return None
    request_id, method, params = message["id"], message["method"], message["params"]
    if message["jsonrpc"] != "2.0" or not isinstance(params, dict):
        return None
    if isinstance(request_id, bool) or not isinstance(request_id, int | str):
        return None
    if method == "initialize":
        fields: tuple[str, ...] = ("protocolVersion", "capabilities", "clientInfo")
        versions: tuple[str, ...] | None = None  # any string: the SDK counters unknown ones
    elif method == "server/discover" and set(params) == {"_meta"}:
        params = params["_meta"]
        if not isinstance(params, dict):
            return None
        fields = tuple(
            ENVELOPE + key for key in ("protocolVersion", "clientCapabilities", "clientInfo")
        )
        versions = MODERN_PROTOCOL_VERSIONS
    else:
        return None
    if set(params) != set(fields):
        return None
    version, client_capabilities, client_info = (params[key] for key in fields)
    if not isinstance(version, str) or (versions is not None and version not in versions):
        return None
    if not _plain_capabilities(client_capabilities) or not _plain_implementation(client_info):
        return None
    return Opening(request_id, method, version)


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
    optional = ("title", "description", "websiteUrl")
    return all(isinstance(client[key], str) for key in optional if key in client)


def sdk_is_verified() -> bool:
    """True when the front's answer is the installed SDK's: the verified release, or a 2.x
    release that negotiates the same protocol versions (what the answer depends on)."""
    release = installed_sdk_version()
    if release == VERIFIED_SDK:
        return True
    if release is None or release.split(".", 1)[0] != VERIFIED_SDK.split(".", 1)[0]:
        logger.info("stdio front off: mcp %s is not a 2.x release; the SDK answers", release)
        return False
    tables = installed_protocol_tables()
    if tables != (HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS):
        logger.info(
            "stdio front off: mcp %s negotiates %s, the front knows %s; the SDK answers",
            release,
            tables,
            (HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS),
        )
        return False
    return True


def installed_protocol_tables() -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """``HANDSHAKE_PROTOCOL_VERSIONS`` and ``MODERN_PROTOCOL_VERSIONS`` of the installed
    ``mcp_types`` (first along ``sys.path``), parsed from its source without importing it."""
    import ast  # only off the verified release: ≈1 ms more on that start-up path

    for entry in sys.path:
        path = os.path.join(entry or ".", "mcp_types", "version.py")
        try:
            with open(path, encoding="utf-8") as source:
                tree = ast.parse(source.read())
        except (OSError, SyntaxError, ValueError):
            continue
        found: dict[str, tuple[str, ...]] = {}
        for node in tree.body:
            if isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
                targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
                for target in targets:
                    if isinstance(target, ast.Name):
                        try:
                            value = ast.literal_eval(node.value)
                        except ValueError:
                            continue
                        if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
                            found[target.id] = value
        handshake = found.get("HANDSHAKE_PROTOCOL_VERSIONS")
        modern = found.get("MODERN_PROTOCOL_VERSIONS")
        return (handshake, modern) if handshake is not None and modern is not None else None
    return None


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
