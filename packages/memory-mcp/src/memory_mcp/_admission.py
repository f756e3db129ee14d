"""Admission of HTTP requests to ``/mcp`` and ``/metrics``: bearer token, rate limit,
body size and body read timeout, checked before the MCP SDK sees the request.

Every refusal is an HTTP status with a JSON-RPC error body (``id: null``), so raw HTTP
clients read the status and MCP clients (the official SDKs surface a JSON-RPC error found
in a non-2xx body) read a clear message:

=====  ======  =================================================================
HTTP   code    when
=====  ======  =================================================================
401    -32001  no ``Authorization: Bearer`` header, or an unknown, revoked or
               expired token (with ``WWW-Authenticate: Bearer ...``)
429    -32029  the token's rate limit is exhausted (with ``Retry-After``)
413    -32013  the body is larger than ``--max-body-bytes``
408    -32008  the body did not arrive within ``--request-timeout``
400    -32700  a JSON body on ``/mcp`` that is not JSON (``_jsonrpc_check``)
400    -32600  JSON that is not a valid message (the id is echoed when valid)
=====  ======  =================================================================

An accepted request carries its ``Caller`` in the ASGI scope (``CALLER_KEY``) and, for the
SDK's session ownership check, an ``AuthenticatedUser`` whose client id is the token id:
a session opened with one token cannot be used with another.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.authentication import AuthCredentials
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memory_mcp._auth import TokenAuth, bearer_token
from memory_mcp._jsonrpc_check import Refusal, check
from memory_mcp._ratelimit import RateLimiter
from memory_mcp._tenancy import Caller

logger = logging.getLogger("memory_mcp")

CALLER_KEY = "memory_mcp.caller"

UNAUTHORIZED = -32001
FORBIDDEN = -32003
TIMED_OUT = -32008
TOO_LARGE = -32013
RATE_LIMITED = -32029

MCP_PREFIX = "/mcp"
PROTECTED_PREFIXES = (MCP_PREFIX, "/metrics")
"""``/health`` stays open: load balancers and orchestrators probe it without a token."""

REALM = 'Bearer realm="memory-mcp"'


def _protected(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PROTECTED_PREFIXES)


async def reply(
    send: Send,
    status: int,
    code: int,
    message: str,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    data: dict[str, Any] | None = None,
    request_id: int | str | None = None,
) -> None:
    """An HTTP error response whose body is a JSON-RPC error."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data:
        error["data"] = data
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HttpGuard:
    """ASGI middleware in front of the whole app; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: TokenAuth | None,
        limiter: RateLimiter,
        max_body_bytes: int,
        body_timeout: float,
    ) -> None:
        self.app = app
        self.auth = auth
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _protected(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        caller: Caller | None = None
        if self.auth is not None:
            token = bearer_token(scope.get("headers", []))
            if token is None:
                await reply(
                    send,
                    401,
                    UNAUTHORIZED,
                    "unauthorized: send 'Authorization: Bearer <token>' "
                    "(create one with `memory --tenant NAME token create`)",
                    headers=[(b"www-authenticate", REALM.encode())],
                )
                return
            info = await self.auth.verify(token)
            if info is None:
                await reply(
                    send,
                    401,
                    UNAUTHORIZED,
                    "unauthorized: the bearer token is unknown, revoked or expired",
                    headers=[
                        (
                            b"www-authenticate",
                            f'{REALM}, error="invalid_token", '
                            'error_description="unknown, revoked or expired token"'.encode(),
                        )
                    ],
                )
                return
            caller = Caller(
                principal=f"token:{info.id}",
                tenant=info.tenant,
                scope=info.scope,
                token_id=info.id,
            )
            scope["user"] = AuthenticatedUser(
                AccessToken(
                    token=info.id,  # the id, never the secret
                    client_id=f"token:{info.id}",
                    scopes=[info.scope],
                    claims={"tenant": info.tenant},
                )
            )
            scope["auth"] = AuthCredentials([info.scope])
        scope[CALLER_KEY] = caller

        # Per token: without authentication every client is the one local agent.
        wait = self.limiter.check(caller.principal) if caller is not None else None
        if wait is not None:
            retry = max(1, math.ceil(wait))
            who = f"token {caller.token_id}" if caller is not None else "this client"
            await reply(
                send,
                429,
                RATE_LIMITED,
                f"rate limit exceeded for {who} ({self.limiter.describe()}); retry in {wait:.2f} s",
                headers=[(b"retry-after", str(retry).encode())],
                data={"retry_after_seconds": round(wait, 3)},
            )
            return

        if scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(send, declared)
            return
        body = bytearray()
        while True:
            try:
                with anyio.fail_after(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                await reply(
                    send,
                    408,
                    TIMED_OUT,
                    f"request body not received within {self.body_timeout:g} s (--request-timeout)",
                )
                return
            if message["type"] != "http.request":
                return  # the client went away
            body.extend(message.get("body", b""))
            if len(body) > self.max_body_bytes:
                await self._too_large(send, len(body))
                return
            if not message.get("more_body", False):
                break
        if _is_mcp_json(scope):
            # The SDK answers invalid messages -32602 with pydantic's report, and a request
            # with a bad id not at all (202): the same rule and words as over stdio instead.
            checked = check(bytes(body))
            if isinstance(checked, Refusal):
                checked.log("http", len(body))
                await reply(send, 400, checked.code, checked.message, request_id=checked.id)
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _too_large(self, send: Send, size: int) -> None:
        await reply(
            send,
            413,
            TOO_LARGE,
            f"request body too large: {size} bytes; the limit is {self.max_body_bytes} "
            "bytes (--max-body-bytes)",
            data={"limit": self.max_body_bytes},
        )


def _is_mcp_json(scope: Scope) -> bool:
    if not (scope.get("path") == MCP_PREFIX or scope.get("path", "").startswith(MCP_PREFIX + "/")):
        return False
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower() == b"application/json"
    return False


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hand the already read body to the app once, then the real channel (disconnects)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
