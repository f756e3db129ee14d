"""One rule for what a JSON-RPC message is, so that a malformed one is answered, not dropped.

The SDK's stdio transport hands a message it cannot validate to the session as an
exception, and the session only debug-logs it: the client waits forever. Worse, a request
whose ``id`` is not an integer or a string (``1.5``, ``null``, ``true``) validates as a
*notification* and is silently ignored. ``check`` validates a line exactly as the SDK does
and, when it fails, says why in one sentence (the field, what it must be) and which error
the sender gets:

* ``-32700`` Parse error: no JSON parser can read the text (``id: null``);
* ``-32600`` Invalid Request: JSON, but not a valid message: an array (batches are not part
  of MCP), ``jsonrpc`` other than ``"2.0"``, an ``id`` that is not an integer or a string,
  ``params`` that is not an object, a string holding a lone surrogate (``\\ud800``, not
  Unicode), nesting deeper than ``MAX_DEPTH`` levels (the SDK's parser limit).

The error carries the request's ``id`` whenever it is a valid id, so the client waiting for
that id is answered; otherwise ``null``, as JSON-RPC 2.0 says. Used by the stdio transport
(``_stdio_wire``) and the HTTP admission (``_admission``), so both answer the same bytes with
the same code and reason.
"""

from __future__ import annotations

import json
import logging
from typing import Any, NamedTuple

import mcp_types
from mcp_types import JSONRPCMessage, JSONRPCNotification
from pydantic import ValidationError

logger = logging.getLogger("memory_mcp")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
MAX_DEPTH = 200
"""Arrays and objects nested deeper are refused (where the SDK's JSON parser stops)."""

RequestId = int | str


class Refusal(NamedTuple):
    """Why a message is refused, and the error its sender gets."""

    code: int
    reason: str
    id: RequestId | None

    @property
    def message(self) -> str:
        label = "Parse error" if self.code == PARSE_ERROR else "Invalid Request"
        return f"{label}: {self.reason}"

    def error(self) -> dict[str, Any]:
        """The JSON-RPC error response."""
        return {
            "jsonrpc": "2.0",
            "id": self.id,
            "error": {"code": self.code, "message": self.message},
        }

    def log(self, transport: str, size: int) -> None:
        """A WARNING with the reason; never the message's content (it may be sensitive)."""
        logger.warning(
            "refused a JSON-RPC message over %s (%d bytes, id %s): %d %s",
            transport,
            size,
            json.dumps(self.id),
            self.code,
            self.reason,
        )


def check(line: str | bytes) -> JSONRPCMessage | Refusal:
    """The message ``line`` holds, validated as the SDK validates it, or why it is refused."""
    try:
        message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValidationError as exc:
        return explain(line, exc)
    if isinstance(message, JSONRPCNotification):
        # A request with a bad id validates as a notification (extra keys are ignored):
        # only a message without an "id" key is one. Notifications are few; parse again.
        raw = json.loads(line)
        if isinstance(raw, dict) and "id" in raw:
            return Refusal(INVALID_REQUEST, _bad_id(raw["id"]), None)
    return message


def explain(line: str | bytes, exc: ValidationError) -> Refusal:
    """Why the SDK refused ``line``: re-read by the standard library's lenient parser (it
    accepts lone surrogates and deep nesting), to name the field and recover the id."""
    try:
        raw = json.loads(line)
    except RecursionError:
        return Refusal(PARSE_ERROR, f"nested deeper than {MAX_DEPTH} levels", None)
    except ValueError as error:
        return Refusal(PARSE_ERROR, f"not valid JSON ({_short(error)})", None)
    if isinstance(raw, list):
        return Refusal(
            INVALID_REQUEST,
            "a JSON array (batch) is not a message; MCP takes one JSON object per message",
            None,
        )
    if not isinstance(raw, dict):
        return Refusal(INVALID_REQUEST, f"a message must be a JSON object, got {_kind(raw)}", None)
    request_id = raw.get("id") if "method" in raw and _valid_id(raw.get("id")) else None
    return Refusal(INVALID_REQUEST, _reason(raw, exc), request_id)


def _reason(raw: dict[str, Any], exc: ValidationError) -> str:
    if "jsonrpc" not in raw:
        return 'jsonrpc is missing; it must be "2.0"'
    if raw["jsonrpc"] != "2.0":
        return f'jsonrpc must be "2.0", got {_shown(raw["jsonrpc"])}'
    if "id" in raw and not _valid_id(raw["id"]):
        return _bad_id(raw["id"])
    depth = _depth(raw)
    if depth > MAX_DEPTH:
        return f"nested {depth} levels deep; the limit is {MAX_DEPTH}"
    if _has_lone_surrogate(raw):
        return "a string holds a lone surrogate (e.g. \\ud800), which is not Unicode text"
    if "method" in raw and not isinstance(raw["method"], str):
        return f"method must be a string, got {_kind(raw['method'])}"
    if "params" in raw and not isinstance(raw["params"], dict):
        return f"params must be an object, got {_kind(raw['params'])}"
    if not any(key in raw for key in ("method", "result", "error")):
        return "a message needs a method (request or notification) or a result or error"
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"][1:]) or "message"
    return f"{where}: {first['msg']}"


def _valid_id(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and not _has_lone_surrogate(value)


def _bad_id(value: object) -> str:
    return f"id must be an integer or a string, got {_kind(value)}"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string" if not _has_lone_surrogate(value) else "a string with a lone surrogate"
    return "an array" if isinstance(value, list) else "an object"


def _shown(value: object) -> str:
    if isinstance(value, str) and len(value) <= 16 and not _has_lone_surrogate(value):
        return json.dumps(value)
    return _kind(value)


def _short(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at character {error.pos}"
    if isinstance(error, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {error.start}"
    return type(error).__name__


def _depth(value: object) -> int:
    """Nesting depth of arrays and objects (the top-level object is 1), without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


def _has_lone_surrogate(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
