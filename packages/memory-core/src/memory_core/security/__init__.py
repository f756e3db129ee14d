"""Security and privacy for memory-core: encryption at rest, audit log, retention,
erasure and API tokens (issue 9, library part).

* ``EncryptedStorage``: sensitive episodes (``metadata={"sensitive": True}`` or a tenant in
  ``sensitive_tenants``) are sealed with AES-256-GCM before storage and never cached in
  clear; ``SelfLearningMemory`` installs it when ``MEMORY_ENCRYPTION_KEYS`` or
  ``MEMORY_SENSITIVE_TENANTS`` is set. What search can do on them: see ``_encrypted``.
* ``rotate_keys(memory)``: re-wrap data keys with the active master key, in batches.
* ``database_key``: with ``MEMORY_ENCRYPT_DATABASE=true`` the whole libSQL file (and its
  WAL) is encrypted under a data key kept wrapped in ``<database>.key``;
  ``rewrap_database_key`` rotates its master key without re-encrypting the file.
* ``AuditLog`` (``memory.audit_log``) and ``memory.audit(...)``: who did what, when, to
  which ids, with what outcome; never payloads. ``acting_as(principal)`` attributes calls.
* ``apply_retention`` / ``RetentionJob``: per-tenant ``RetentionPolicy`` with dry run.
* ``erase_episode`` / ``erase_matching`` / ``erase_tenant``: erasure everywhere.
* ``TokenStore``: bearer tokens bound to a tenant and a scope, hashed at rest.

Names are imported lazily, so ``MemoryConfig`` can use ``RetentionPolicy`` without
loading the cryptography library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memory_core.security._audit import AuditLog, AuditRecord, acting_as, current_principal
    from memory_core.security._database_key import (
        database_key,
        key_file,
        rewrap_database_key,
    )
    from memory_core.security._encrypted import EncryptedStorage, structural_patterns
    from memory_core.security._erasure import (
        ErasureReport,
        erase_episode,
        erase_matching,
        erase_tenant,
    )
    from memory_core.security._errors import AuthenticationError, DecryptionError
    from memory_core.security._keyring import Keyring, generate_key
    from memory_core.security._policy import RetentionPolicy
    from memory_core.security._retention import (
        RetentionJob,
        RetentionReport,
        apply_retention,
        start_retention_job,
    )
    from memory_core.security._rotation import (
        RotationProgress,
        encrypted_tenants,
        key_usage,
        rotate_keys,
    )
    from memory_core.security._system import SYSTEM_TENANT
    from memory_core.security._tokens import IssuedToken, Scope, TokenInfo, TokenStore

_WHERE = {
    "AuditLog": "_audit",
    "AuditRecord": "_audit",
    "acting_as": "_audit",
    "current_principal": "_audit",
    "database_key": "_database_key",
    "key_file": "_database_key",
    "rewrap_database_key": "_database_key",
    "EncryptedStorage": "_encrypted",
    "structural_patterns": "_encrypted",
    "ErasureReport": "_erasure",
    "erase_episode": "_erasure",
    "erase_matching": "_erasure",
    "erase_tenant": "_erasure",
    "AuthenticationError": "_errors",
    "DecryptionError": "_errors",
    "Keyring": "_keyring",
    "generate_key": "_keyring",
    "RetentionPolicy": "_policy",
    "RetentionJob": "_retention",
    "RetentionReport": "_retention",
    "apply_retention": "_retention",
    "start_retention_job": "_retention",
    "RotationProgress": "_rotation",
    "encrypted_tenants": "_rotation",
    "key_usage": "_rotation",
    "rotate_keys": "_rotation",
    "SYSTEM_TENANT": "_system",
    "IssuedToken": "_tokens",
    "Scope": "_tokens",
    "TokenInfo": "_tokens",
    "TokenStore": "_tokens",
}

__all__ = [
    "SYSTEM_TENANT",
    "AuditLog",
    "AuditRecord",
    "AuthenticationError",
    "DecryptionError",
    "EncryptedStorage",
    "ErasureReport",
    "IssuedToken",
    "Keyring",
    "RetentionJob",
    "RetentionPolicy",
    "RetentionReport",
    "RotationProgress",
    "Scope",
    "TokenInfo",
    "TokenStore",
    "acting_as",
    "apply_retention",
    "current_principal",
    "database_key",
    "encrypted_tenants",
    "erase_episode",
    "erase_matching",
    "erase_tenant",
    "generate_key",
    "key_file",
    "key_usage",
    "rewrap_database_key",
    "rotate_keys",
    "start_retention_job",
    "structural_patterns",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'memory_core.security' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"memory_core.security.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
