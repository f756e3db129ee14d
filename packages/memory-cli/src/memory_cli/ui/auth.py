"""Who may use the dashboard, and the CSRF token that protects its forms.

* On a loopback address with ``--auth auto`` (the default) nobody logs in: the dashboard
  acts on the configured tenant with every scope, like the CLI on the same machine.
* Anywhere else (or with ``--auth token``) every request needs one of the MCP server's
  bearer tokens (``memory token create``), verified by memory-core's ``TokenStore``: the
  token's tenant is the only tenant shown and its scope decides what may be changed
  (as over MCP: ``read`` the pages, ``write`` tags and pattern feedback, ``admin``
  also delete). A browser logs in once with the
  token (kept server-side, re-verified on every request so revocation takes effect); a
  script may send ``Authorization: Bearer <token>`` instead.

Forms carry ``csrf``, an HMAC of the session cookie (``SameSite=Strict``, ``HttpOnly``)
under a per-process key: a page on another site can neither read it nor send the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from memory_core import SelfLearningMemory
from memory_core.security import SYSTEM_TENANT, TokenStore
from starlette.requests import Request

Scope = Literal["read", "write", "admin"]
AuthMode = Literal["auto", "token"]
_RANK: dict[str, int] = {"read": 0, "write": 1, "admin": 2}
SESSION_COOKIE = "memory_ui_session"
MAX_SESSIONS = 4_096
"""Logged-in sessions remembered; the oldest is forgotten first (it logs in again)."""


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``: only this machine can connect."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tokens_required(host: str, mode: AuthMode) -> bool:
    return mode == "token" or not is_loopback(host)


@dataclass(frozen=True)
class Access:
    """What one request may do. ``tenant`` None is the configured tenant; ``scope`` None
    means unrestricted (loopback without tokens)."""

    principal: str
    tenant: str | None = None
    scope: Scope | None = None

    def allows(self, required: Scope) -> bool:
        return self.scope is None or _RANK[self.scope] >= _RANK[required]


LOCAL = Access(principal="local")


class NoTokensError(Exception):
    """Tokens are required but the store has none: starting would lock everyone out or,
    worse, tempt someone to disable the check."""


class Gate:
    """Resolves a request to its ``Access`` and keeps the sessions of logged-in browsers."""

    def __init__(self, memory: SelfLearningMemory, *, require_tokens: bool) -> None:
        self.require_tokens = require_tokens
        self._memory = memory
        self._store: TokenStore | None = None
        self._csrf_key = secrets.token_bytes(32)
        self._sessions: OrderedDict[str, str] = OrderedDict()  # session id -> bearer token
        self._lock = threading.Lock()

    @property
    def tokens(self) -> TokenStore:
        if self._store is None:
            self._store = TokenStore(self._memory.storage, cache_seconds=5.0)
        return self._store

    def check_startable(self) -> None:
        """Raise ``NoTokensError`` when tokens are required and none is active."""
        if not self.require_tokens:
            return
        active = [t for t in self.tokens.list() if t.active and t.tenant != SYSTEM_TENANT]
        if not active:
            raise NoTokensError(
                "this address needs bearer tokens and the database has none; create one with "
                "`memory --tenant NAME token create --scope read` (or bind to 127.0.0.1)"
            )

    # -- verification (called on a worker thread: it may read the database) -------------
    def verify(self, token: str) -> Access | None:
        info = self.tokens.verify(token)
        if info is None or info.tenant == SYSTEM_TENANT:
            return None
        return Access(principal=f"token:{info.id}", tenant=info.tenant, scope=info.scope)

    def access(self, request: Request) -> Access | None:
        """The request's access, or None when it must log in first."""
        if not self.require_tokens:
            return LOCAL
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return self.verify(value.strip())
        session = request.cookies.get(SESSION_COOKIE, "")
        with self._lock:
            token = self._sessions.get(session)
        if token is None:
            return None
        found = self.verify(token)
        if found is None:  # revoked or expired since login
            self.logout(session)
        return found

    def bearer(self, request: Request) -> bool:
        """Authenticated by header: no ambient credential, so no CSRF exposure."""
        return request.headers.get("authorization", "").lower().startswith("bearer ")

    # -- sessions ------------------------------------------------------------------------
    def login(self, token: str) -> str | None:
        """A new session id for a valid token (a fresh id: no session fixation)."""
        if self.verify(token) is None:
            return None
        session = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[session] = token
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return session

    def logout(self, session: str) -> None:
        with self._lock:
            self._sessions.pop(session, None)

    # -- CSRF ----------------------------------------------------------------------------
    @staticmethod
    def new_session_id() -> str:
        return secrets.token_urlsafe(24)

    def csrf_token(self, session: str) -> str:
        return hmac.new(self._csrf_key, session.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: str, submitted: str) -> bool:
        return bool(session) and hmac.compare_digest(self.csrf_token(session), submitted)
