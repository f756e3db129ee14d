"""AES-256-GCM sealing: data keys wrapped by master keys, fields sealed by data keys.

Every sealed value is bound to where it belongs by its associated data (tenant, episode,
part), so ciphertext copied to another episode, tenant or field does not decrypt.
Layout of a sealed blob: 12-byte random nonce, then ciphertext with its 16-byte tag.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from memory_core.security._errors import DecryptionError

__all__ = ["FIELD_PREFIX", "b64d", "b64e", "new_data_key", "open_sealed", "seal"]

NONCE_BYTES = 12
FIELD_PREFIX = "menc1:"
"""Marks a sealed text field in storage (format version 1)."""


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes, *, key_id: str | None = None) -> bytes:
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError("sealed value is truncated", key_id=key_id)
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
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
