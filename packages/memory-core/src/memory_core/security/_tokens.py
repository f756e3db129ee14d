"""``TokenStore``: bearer tokens for the MCP HTTP transport, hashed at rest.

A token looks like ``mcm_<id>_<secret>``: ``id`` (12 hex characters) finds the record,
``secret`` (32 random bytes, base64url) is checked against its stored SHA-256 digest in
constant time. Only the digest is stored; the token is shown once, at creation.
Records live in the system tenant (kind ``"api_token"``), so every server process
sharing the database sees the same tokens::

    store = TokenStore(memory.storage)
    issued = store.create("team-a", "write", name="ci")      # issued.token: show once
    store.verify(issued.token)     # -> TokenInfo(tenant="team-a", scope="write", ...)
    store.revoke(issued.id)        # effective at once in this process, within
                                   # ``cache_seconds`` in other processes

Rotation is ``create`` (new) then ``revoke`` (old): both work while servers run.
Scopes are ordered: ``read`` < ``write`` < ``admin``; ``TokenInfo.allows("write")``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from memory_core._errors import ConfigurationError, InvalidInputError, NotFoundError
from memory_core._models import utcnow
from memory_core._protocols import RecordStore
from memory_core.security._system import SYSTEM_TENANT, TOKEN_KIND

__all__ = ["IssuedToken", "Scope", "TokenInfo", "TokenStore"]

Scope = Literal["read", "write", "admin"]
_RANK = {"read": 0, "write": 1, "admin": 2}
_PREFIX = "mcm_"
_TOKEN = re.compile(r"mcm_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_TENANT = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class TokenInfo(BaseModel):
    """A token's record without its digest: what ``list`` and ``verify`` return."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    tenant: str
    scope: Scope
    name: str = ""
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > utcnow())

    def allows(self, required: Scope) -> bool:
        return _RANK[self.scope] >= _RANK[required]

    def __repr__(self) -> str:
        return f"TokenInfo(id={self.id!r}, tenant={self.tenant!r}, scope={self.scope!r})"


class IssuedToken(BaseModel):
    """A newly created token: ``token`` is the bearer secret, shown only now."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    info: TokenInfo
    token: str

    @property
    def id(self) -> str:
        return self.info.id

    def __repr__(self) -> str:  # never print the secret
        return f"IssuedToken(info={self.info!r}, token='mcm_{self.info.id}_…')"

    __str__ = __repr__


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


class TokenStore:
    """Create, list, revoke and verify bearer tokens stored in a ``RecordStore``.

    Args:
        store: the storage backend (records required).
        cache_seconds: how long ``verify`` trusts a looked-up record before reading it
            again; bounds how late a revocation by another process takes effect.
        cache_size: records kept by the verification cache (LRU).
        clock: monotonic clock, injectable for tests.
    """

    def __init__(
        self,
        store: object,
        *,
        cache_seconds: float = 5.0,
        cache_size: int = 1_024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(store, RecordStore):
            raise ConfigurationError(
                "API tokens need a storage backend with records (RecordStore)",
                key="storage_backend",
            )
        self._store = store
        self._ttl = cache_seconds
        self._size = cache_size
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, dict[str, Any] | None]] = OrderedDict()
        self._lock = threading.Lock()

    # -- admin ---------------------------------------------------------------------------
    def create(
        self,
        tenant: str,
        scope: Scope,
        *,
        name: str = "",
        expires_in: timedelta | None = None,
    ) -> IssuedToken:
        if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant) or tenant == SYSTEM_TENANT:
            raise InvalidInputError(
                "tenant must be 1-128 letters, digits, '-', '_' or '.' (not the system tenant)",
                field="tenant",
                limit=128,
            )
        if scope not in _RANK:
            raise InvalidInputError(
                f"scope must be one of {', '.join(_RANK)}; got {scope!r}", field="scope"
            )
        if not isinstance(name, str) or len(name) > 128:
            raise InvalidInputError("name must be at most 128 characters", field="name", limit=128)
        if expires_in is not None and expires_in <= timedelta(0):
            raise InvalidInputError("expires_in must be positive", field="expires_in", limit=0)
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        info = TokenInfo(
            id=token_id,
            tenant=tenant,
            scope=scope,
            name=name,
            created_at=now,
            expires_at=now + expires_in if expires_in is not None else None,
        )
        data = info.model_dump(mode="json") | {"sha256": _digest(secret)}
        self._store.put_record(SYSTEM_TENANT, TOKEN_KIND, token_id, data)
        return IssuedToken(info=info, token=f"{_PREFIX}{token_id}_{secret}")

    def list(self, *, tenant: str | None = None, include_revoked: bool = False) -> list[TokenInfo]:
        out: list[TokenInfo] = []
        after = 0
        while True:
            page = self._store.list_records(SYSTEM_TENANT, TOKEN_KIND, limit=500, after_seq=after)
            for _, _, data in page:
                info = _info(data)
                if (tenant is None or info.tenant == tenant) and (
                    include_revoked or info.revoked_at is None
                ):
                    out.append(info)
            if len(page) < 500:
                return out
            after = page[-1][0]

    def revoke(self, token_id: str) -> TokenInfo:
        """Mark a token revoked (kept for the audit trail). Raises ``NotFoundError``."""
        data = self._store.get_record(SYSTEM_TENANT, TOKEN_KIND, str(token_id))
        if data is None:
            raise NotFoundError(f"token not found: {str(token_id)[:32]}")
        if data.get("revoked_at") is None:
            data = dict(data, revoked_at=utcnow().isoformat())
            self._store.put_record(SYSTEM_TENANT, TOKEN_KIND, str(token_id), data)
        with self._lock:
            self._cache.pop(str(token_id), None)
        return _info(data)

    def rotate(self, token_id: str, *, expires_in: timedelta | None = None) -> IssuedToken:
        """A new token with the same tenant, scope and name; the old one is revoked."""
        data = self._store.get_record(SYSTEM_TENANT, TOKEN_KIND, str(token_id))
        if data is None:
            raise NotFoundError(f"token not found: {str(token_id)[:32]}")
        old = _info(data)
        issued = self.create(old.tenant, old.scope, name=old.name, expires_in=expires_in)
        self.revoke(old.id)
        return issued

    # -- verification --------------------------------------------------------------------
    def verify(self, token: str) -> TokenInfo | None:
        """The token's tenant and scope if it is valid, unrevoked and unexpired, else
        ``None``. Never raises for a bad token and never logs it."""
        if not isinstance(token, str):
            return None
        m = _TOKEN.fullmatch(token.strip())
        if m is None:
            return None
        token_id, secret = m.groups()
        data = self._lookup(token_id)
        if data is None or not hmac.compare_digest(str(data.get("sha256", "")), _digest(secret)):
            return None
        info = _info(data)
        return info if info.active else None

    def _lookup(self, token_id: str) -> dict[str, Any] | None:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(token_id)
            if hit is not None and now - hit[0] < self._ttl:
                self._cache.move_to_end(token_id)
                return hit[1]
        data = self._store.get_record(SYSTEM_TENANT, TOKEN_KIND, token_id)
        with self._lock:
            self._cache[token_id] = (now, data)
            self._cache.move_to_end(token_id)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return data


def _info(data: dict[str, Any]) -> TokenInfo:
    return TokenInfo.model_validate({k: v for k, v in data.items() if k != "sha256"})
