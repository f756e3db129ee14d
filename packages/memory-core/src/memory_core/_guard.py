"""``Guard``: the security checks the learning loop makes on every write and read.

Audit records for library operations, "is any of these episodes sensitive" (so its
plaintext never reaches the cache or the embedder), and the refusal to store a sensitive
episode without encryption at rest. The policies themselves live in
``memory_core.security``; this is the narrow interface the core and it share.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any
from uuid import UUID

from memory_core._backends import Backends
from memory_core._config import MemoryConfig
from memory_core._errors import ConfigurationError, MemoryCoreError
from memory_core._protocols import SensitiveStore

if TYPE_CHECKING:
    from memory_core.security._audit import AuditLog

log = logging.getLogger("memory_core")


class Guard:
    """Audit, sensitivity and encryption-required checks over one memory's storage."""

    def __init__(
        self, backends: Backends, config: MemoryConfig, lock: AbstractContextManager[Any]
    ) -> None:
        self._backends = backends
        self._config = config
        self._lock = lock
        self._audit_log: AuditLog | None = None

    @property
    def audit_log(self) -> AuditLog:
        """The ``AuditLog`` over this memory's storage, built on first use."""
        if self._audit_log is None:
            from memory_core.security._audit import AuditLog

            self._audit_log = AuditLog(self._backends.storage, enabled=self._config.audit_enabled)
        return self._audit_log

    def append(
        self,
        tenant: str,
        operation: str,
        principal: str | None,
        target_ids: Sequence[object],
        outcome: str,
    ) -> None:
        """An audit record a front end asked for; failures propagate."""
        with self._lock:
            self.audit_log.append(
                tenant, operation, principal=principal, target_ids=target_ids, outcome=outcome
            )

    def audit(
        self, operation: str, tenant: str, target_ids: Sequence[object] = (), outcome: str = "ok"
    ) -> None:
        """Audit a library operation that already happened: a failure is logged, not raised."""
        if not self._config.audit_enabled:
            return
        try:
            with self._lock:
                self.audit_log.append(tenant, operation, target_ids=target_ids, outcome=outcome)
        except MemoryCoreError:
            log.exception("could not append the audit record for %s", operation)

    def sensitive(self, tenant: str, episode_ids: Sequence[UUID]) -> bool:
        """True when the (open) storage holds any of these episodes as sensitive."""
        store = self._backends.opened_storage
        if not isinstance(store, SensitiveStore):
            return False
        with self._lock:
            return bool(store.contains_sensitive(tenant, episode_ids))

    def require_encryption(self, metadata: dict[str, Any]) -> None:
        """Refuse a sensitive episode when the storage does not encrypt at rest."""
        if metadata.get("sensitive") is not True:
            return  # first: a runtime Protocol check costs ~0.1 ms (import_episodes' hot loop)
        store = self._backends.storage
        encrypts = self._config.encrypt_database or (
            isinstance(store, SensitiveStore) and store.encrypts
        )
        if not encrypts:
            raise ConfigurationError(
                "the episode is marked sensitive but encryption at rest is not configured; "
                "set MEMORY_ENCRYPTION_KEYS (or MEMORY_ENCRYPTION_KEYS_FILE)",
                key="MEMORY_ENCRYPTION_KEYS",
            )
