"""The Starlette application: routes, the session cookie, security headers, error pages.

``create_app(memory, gate)`` builds it; ``serve(...)`` (``memory ui``) runs it with
uvicorn. Every response carries a strict Content-Security-Policy (no scripts at all, styles
from this server only) and refuses to be framed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from memory_core import SelfLearningMemory
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from memory_cli.ui.auth import SESSION_COOKIE, Gate, is_loopback
from memory_cli.ui.routes import Dashboard
from memory_cli.ui.templates import STATIC_DIR

log = logging.getLogger("memory_cli.ui")

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]


class SessionMiddleware(BaseHTTPMiddleware):
    """Gives every browser a session id (the CSRF key and, after login, the login) and
    adds the security headers."""

    def __init__(self, app: object, gate: Gate) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.gate = gate

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        request.state.session = cookie or self.gate.new_session_id()
        request.state.new_session = None
        response = await call_next(request)
        session = request.state.new_session or (None if cookie else request.state.session)
        if session is not None:
            response.set_cookie(
                SESSION_COOKIE,
                session,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
            )
        for name, value in SECURITY_HEADERS.items():
            if not request.url.path.startswith("/static/") or name != "cache-control":
                response.headers.setdefault(name, value)
        return response


def create_app(memory: SelfLearningMemory, gate: Gate, *, host: str = "127.0.0.1") -> Starlette:
    """The dashboard over ``memory``; ``host`` is the bind address (loopback binds accept
    only loopback ``Host`` headers, against DNS rebinding)."""
    dashboard = Dashboard(memory, gate)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        text = "No such page." if status == 404 else "Something went wrong."
        if status == 405:
            text = "That page does not take this method."
        return HTMLResponse(
            dashboard.templates.env.get_template("plain_error.html").render(
                status=status, message=text
            ),
            status_code=status,
        )

    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("dashboard page failed: %s", request.url.path)
        return await not_found(request, exc)

    middleware = [Middleware(SessionMiddleware, gate=gate)]
    if is_loopback(host):
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_HOSTS))
    app = Starlette(
        routes=[*dashboard.routes(), Mount("/static", StaticFiles(directory=STATIC_DIR))],
        middleware=middleware,
        exception_handlers={HTTPException: not_found, Exception: crashed},
    )
    app.state.dashboard = dashboard
    return app
