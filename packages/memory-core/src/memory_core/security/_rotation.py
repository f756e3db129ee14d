"""Master-key rotation: re-wrap every data key with the keyring's active key.

Steps for an operator:

1. add the new key to ``MEMORY_ENCRYPTION_KEYS`` and make it active
   (``MEMORY_ENCRYPTION_ACTIVE_KEY`` or list it last); new episodes use it at once;
2. run ``rotate_keys(memory)`` (``memory security rotate-keys``): data keys wrapped by
   other key ids are re-wrapped in batches, with progress;
3. when it reports ``remaining == 0``, remove the old key from the keyring.

Episodes themselves are not rewritten: their fields are sealed with their own data key,
which does not change (envelope encryption, as in cloud KMS services). Rotation is
idempotent and resumable: running it again only touches what is still on an old key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from memory_core._errors import ConfigurationError, InvalidInputError
from memory_core.security._encrypted import EncryptedStorage
from memory_core.security._system import DEK_KIND, ENCRYPTED_TENANT_KIND, SYSTEM_TENANT

if TYPE_CHECKING:
    from memory_core._memory import SelfLearningMemory

__all__ = ["RotationProgress", "encrypted_tenants", "key_usage", "rotate_keys"]


@dataclass(frozen=True)
class RotationProgress:
    """Reported after each batch: data keys seen and re-wrapped so far, of ``total``."""

    tenant: str
    seen: int
    rewrapped: int
    total: int


def encrypted_storage(memory: SelfLearningMemory) -> EncryptedStorage:
    storage = memory.storage
    if not isinstance(storage, EncryptedStorage):
        raise ConfigurationError(
            "encryption is not configured (set MEMORY_ENCRYPTION_KEYS)",
            key="MEMORY_ENCRYPTION_KEYS",
        )
    return storage


def encrypted_tenants(memory: SelfLearningMemory) -> list[str]:
    """Tenants that hold data keys (registered when their first one was created)."""
    records = encrypted_storage(memory).records
    out: list[str] = []
    after = 0
    while True:
        page = records.list_records(
            SYSTEM_TENANT, ENCRYPTED_TENANT_KIND, limit=500, after_seq=after
        )
        out.extend(rid for _, rid, _ in page)
        if len(page) < 500:
            return out
        after = page[-1][0]


def key_usage(
    memory: SelfLearningMemory, *, tenants: Iterable[str] | None = None
) -> dict[str, int]:
    """How many data keys each master key id wraps: an old key may be removed from the
    keyring when it no longer appears here."""
    records = encrypted_storage(memory).records
    usage: dict[str, int] = {}
    for tenant in list(tenants) if tenants is not None else encrypted_tenants(memory):
        after = 0
        while True:
            with memory._lock:
                page = records.list_records(tenant, DEK_KIND, limit=500, after_seq=after)
            for _, _, data in page:
                kid = str(data.get("kid"))
                usage[kid] = usage.get(kid, 0) + 1
            if len(page) < 500:
                break
            after = page[-1][0]
    return usage


def rotate_keys(
    memory: SelfLearningMemory,
    *,
    tenants: Iterable[str] | None = None,
    batch: int = 100,
    progress: Callable[[RotationProgress], None] | None = None,
) -> int:
    """Re-wrap data keys not wrapped by the active key; returns how many were re-wrapped.

    Raises ``DecryptionError`` if a data key's key id is no longer in the keyring.
    """
    if not 1 <= batch <= 10_000:
        raise InvalidInputError("batch must be between 1 and 10000", field="batch", limit=10_000)
    storage = encrypted_storage(memory)
    keyring = storage.keyring
    if keyring is None:
        raise ConfigurationError("no encryption keys are configured", key="MEMORY_ENCRYPTION_KEYS")
    records = storage.records
    done = 0
    for tenant in list(tenants) if tenants is not None else encrypted_tenants(memory):
        with memory._lock:
            total = _count(records, tenant)
        seen = rewrapped = 0
        after = 0
        while True:
            with memory._lock:
                page = records.list_records(tenant, DEK_KIND, limit=batch, after_seq=after)
                for _, rid, data in page:
                    if data.get("kid") != keyring.active_id:
                        eid = UUID(rid)
                        key = storage.unwrap(tenant, eid, data)
                        records.put_record(
                            tenant, DEK_KIND, rid, storage.wrap(tenant, eid, key), episode_id=eid
                        )
                        rewrapped += 1
                seen += len(page)
            if progress is not None and page:
                progress(RotationProgress(tenant, seen, rewrapped, total))
            if len(page) < batch:
                break
            after = page[-1][0]
        done += rewrapped
        memory._audit("rotate_keys", tenant, [keyring.active_id], f"ok:{rewrapped}")
    return done


def _count(records: object, tenant: str) -> int:
    n = after = 0
    while True:
        page = records.list_records(tenant, DEK_KIND, limit=500, after_seq=after)  # type: ignore[attr-defined]
        n += len(page)
        if len(page) < 500:
            return n
        after = page[-1][0]
