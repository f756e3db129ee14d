"""AES-256-GCM sealing: data keys wrapped by master keys, fields sealed by data keys.

Every sealed value is bound to where it belongs by its associated data (tenant, episode,
part), so ciphertext copied to another episode, tenant or field does not decrypt.
Layout of a sealed blob: 12-byte random nonce, then ciphertext with its 16-byte tag.
"""

from __future__ import annotations

import base64
import os
from typing import TYPE_CHECKING

from memory_core._errors import ConfigurationError
from memory_core.security._errors import DecryptionError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "FIELD_PREFIX",
    "b64d",
    "b64e",
    "new_data_key",
    "open_sealed",
    "require_cryptography",
    "seal",
]

NEEDS_CRYPTOGRAPHY = (
    "encryption (sensitive episodes, cache sealing) needs the cryptography package: "
    "pip install 'selfmem-core[encryption]' (the server and the cache plugins have it)"
)


def require_cryptography() -> type[AESGCM]:
    """AES-GCM from ``cryptography``, an optional dependency (``[encryption]``), or a
    ``ConfigurationError`` that says what to install."""
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ModuleNotFoundError:
        raise ConfigurationError(NEEDS_CRYPTOGRAPHY, key="MEMORY_ENCRYPTION_KEYS") from None
    return AESGCM


NONCE_BYTES = 12
FIELD_PREFIX = "menc1:"
"""Marks a sealed text field in storage (format version 1)."""


def new_data_key() -> bytes:
    return require_cryptography().generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + require_cryptography()(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes, *, key_id: str | None = None) -> bytes:
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError("sealed value is truncated", key_id=key_id)
    aesgcm = require_cryptography()
    from cryptography.exceptions import InvalidTag

    try:
        return aesgcm(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise DecryptionError(
            "sealed value failed authentication (wrong key or modified data)", key_id=key_id
        ) from None


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64d(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise DecryptionError("sealed value is not valid base64") from None
