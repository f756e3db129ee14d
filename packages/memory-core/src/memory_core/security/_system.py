"""Names shared by the security features: the system tenant and record kinds."""

from __future__ import annotations

__all__ = ["AUDIT_KIND", "DEK_KIND", "ENCRYPTED_TENANT_KIND", "SYSTEM_TENANT", "TOKEN_KIND"]

SYSTEM_TENANT = ".system"
"""Holds records that belong to no tenant (API tokens, the list of encrypted tenants).
Front ends must never serve it as a caller's tenant; ``TokenStore`` refuses to bind it."""

DEK_KIND = "dek"
"""One wrapped data key per sensitive episode (record id = episode id, naming the episode,
so ``delete_episode`` removes it in the same transaction: crypto-shredding)."""

ENCRYPTED_TENANT_KIND = "encrypted_tenant"
"""In ``SYSTEM_TENANT``: tenants that hold data keys (what key rotation walks)."""

AUDIT_KIND = "audit"
TOKEN_KIND = "api_token"
