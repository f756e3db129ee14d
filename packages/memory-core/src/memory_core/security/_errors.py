"""Errors of the security package, under memory-core's tree::

MemoryCoreError
├── StorageError
│   └── DecryptionError       a stored envelope cannot be opened (unknown key id, tampered)
└── AuthenticationError       a bearer token is malformed (verify() returns None otherwise)
"""

from __future__ import annotations

from memory_core._errors import MemoryCoreError, StorageError

__all__ = ["AuthenticationError", "DecryptionError"]


class DecryptionError(StorageError):
    """Stored ciphertext could not be decrypted: its key id is not in the keyring, or the
    bytes were changed. Never carries the ciphertext or key material.

    Args:
        message: explanation.
        key_id: the key id named by the envelope, when known.
    """

    def __init__(self, message: str, *, key_id: str | None = None) -> None:
        super().__init__(message)
        self.key_id = key_id


class AuthenticationError(MemoryCoreError):
    """A credential is malformed or not accepted."""
