"""``Keyring``: the master keys (key id → 32-byte AES-256 key) and the active key id.

Configured as ``MEMORY_ENCRYPTION_KEYS`` (or ``MEMORY_ENCRYPTION_KEYS_FILE``)::

    k2024:q7m1...base64...=,k2025:Z3x9...base64...=

or a JSON object ``{"k2024": "...", "k2025": "..."}``. New data keys are wrapped with the
active key (``MEMORY_ENCRYPTION_ACTIVE_KEY``, default: the last one listed); older keys
stay listed until ``rotate_keys`` has re-wrapped everything they protect.

Key material never appears in ``repr``, ``str`` or error messages.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from memory_core._errors import ConfigurationError

if TYPE_CHECKING:
    from memory_core._config import MemoryConfig

__all__ = ["KEY_BYTES", "Keyring", "generate_key"]

KEY_BYTES = 32
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_SETTING = "MEMORY_ENCRYPTION_KEYS"


def generate_key() -> str:
    """A new random AES-256 key, base64-encoded (for ``memory`` CLI key generation)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


class Keyring:
    """Immutable set of master keys; ``active_id`` wraps new data keys."""

    __slots__ = ("_active", "_keys")

    def __init__(self, keys: Mapping[str, bytes], active_id: str | None = None) -> None:
        if not keys:
            raise ConfigurationError(f"{_SETTING} lists no keys", key=_SETTING)
        for kid, key in keys.items():
            if not _KEY_ID.fullmatch(kid):
                raise ConfigurationError(
                    f"encryption key id {kid[:40]!r} must be 1-32 letters, digits, '-', '_' or '.'",
                    key=_SETTING,
                )
            if len(key) != KEY_BYTES:
                raise ConfigurationError(
                    f"encryption key {kid!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}",
                    key=_SETTING,
                )
        self._keys = dict(keys)
        active = active_id or list(keys)[-1]
        if active not in self._keys:
            raise ConfigurationError(
                f"the active encryption key id {active!r} is not in {_SETTING} "
                f"(ids: {', '.join(self._keys)})",
                key="MEMORY_ENCRYPTION_ACTIVE_KEY",
            )
        self._active = active

    @classmethod
    def parse(cls, text: str, active_id: str | None = None) -> Keyring:
        """From ``id:base64,id:base64`` or a JSON object of id → base64."""
        text = text.strip()
        pairs: list[tuple[str, str]] = []
        if text.startswith("{"):
            try:
                raw = json.loads(text)
            except ValueError:
                raise ConfigurationError(f"{_SETTING} is not valid JSON", key=_SETTING) from None
            if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
                raise ConfigurationError(
                    f"{_SETTING} must map key ids to base64 strings", key=_SETTING
                )
            pairs = [(str(k), v) for k, v in raw.items()]
        else:
            for i, item in enumerate(p.strip() for p in text.split(",")):
                if not item:
                    continue
                kid, sep, value = item.partition(":")
                if not sep:
                    raise ConfigurationError(
                        f"{_SETTING} entry {i + 1} is not 'id:base64key'", key=_SETTING
                    )
                pairs.append((kid.strip(), value.strip()))
        keys: dict[str, bytes] = {}
        for kid, value in pairs:
            if kid in keys:
                raise ConfigurationError(f"encryption key id {kid!r} is listed twice", key=_SETTING)
            keys[kid] = _decode(kid, value)
        return cls(keys, active_id)

    @classmethod
    def from_config(cls, config: MemoryConfig) -> Keyring | None:
        """The configured keyring, or ``None`` when no keys are set."""
        secret = config.encryption_keys
        if secret is None or not secret.get_secret_value().strip():
            return None
        return cls.parse(secret.get_secret_value(), config.encryption_active_key)

    @property
    def active_id(self) -> str:
        return self._active

    @property
    def active_key(self) -> bytes:
        return self._keys[self._active]

    @property
    def ids(self) -> list[str]:
        return list(self._keys)

    def key(self, key_id: str) -> bytes | None:
        return self._keys.get(key_id)

    def __repr__(self) -> str:
        return f"Keyring(ids={self.ids!r}, active={self._active!r})"

    __str__ = __repr__


def _decode(kid: str, value: str) -> bytes:
    try:
        padded = value + "=" * (-len(value) % 4)
        if "-" in value or "_" in value:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"encryption key {kid!r} is not valid base64", key=_SETTING
        ) from None
