"""Bearer-token verification for the HTTP transport, backed by ``TokenStore``.

Tokens live (hashed) in the memory's own database, so ``memory token create|revoke|rotate``
in another process changes what every server accepts without a restart: a verified (or
refused) token is remembered for ``cache_seconds``, which bounds how late a revocation
takes effect (0 = look every token up on every request).

Verification never logs the token and keys its cache by the token's SHA-256, so the
secret is kept nowhere in the server beyond the request that carried it.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from memory_core import SelfLearningMemory
from memory_core.security import SYSTEM_TENANT, TokenInfo, TokenStore

CACHE_SIZE = 4_096
"""Tokens remembered (valid or not); an unknown-token flood cannot grow it further."""


class TokenAuth:
    """``await verify(token)`` → the token's ``TokenInfo`` when valid, else None."""

    def __init__(
        self,
        memory: SelfLearningMemory,
        *,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._memory = memory
        self._ttl = cache_seconds
        self._clock = clock
        self._store: TokenStore | None = None
        self._cache: OrderedDict[str, tuple[float, TokenInfo | None]] = OrderedDict()

    def _lookup(self, token: str) -> TokenInfo | None:
        """On a worker thread: opens the storage on first use."""
        if self._store is None:
            # TokenStore's own cache is off: this class caches, by digest, for _ttl.
            self._store = TokenStore(self._memory.storage, cache_seconds=0.0)
        info = self._store.verify(token)
        if info is not None and info.tenant == SYSTEM_TENANT:
            return None  # never serve the system tenant to a caller
        return info

    async def verify(self, token: str) -> TokenInfo | None:
        key = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            info = hit[1]
            if info is None or info.active:  # expiry is checked on every request
                return info
        info = await anyio.to_thread.run_sync(self._lookup, token)
        self._cache[key] = (now, info)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return info


def bearer_token(headers: list[tuple[bytes, bytes]] | Any) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    for name, value in headers:
        if name.lower() == b"authorization":
            text = value.decode("latin-1").strip()
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None
