"""The key of an encrypted database file, wrapped by a master key from the keyring.

Why: libSQL encrypts a whole database file and its WAL with one key given at open
(``libsql.connect(path, encryption_key=...)``), and refuses ``PRAGMA rekey`` in WAL mode,
so that key can never change. It is therefore a random *data* key, generated once when the
database is created and kept next to it in ``<database>.key`` wrapped (AES-256-GCM) by the
keyring's active master key; rotating the master key re-wraps that small file instead of
re-encrypting the database. Losing the master keys loses the database: back them up.

The file: ``{"format": 1, "kid": <master key id>, "wrapped": <base64 nonce|ct|tag>}``,
written atomically (temporary file, fsync, rename, fsync of the directory), mode 0600.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from memory_core._errors import ConfigurationError
from memory_core.security._crypto import b64d, b64e, new_data_key, open_sealed, seal
from memory_core.security._keyring import Keyring

if TYPE_CHECKING:
    from memory_core._config import MemoryConfig

__all__ = ["database_key", "key_file", "rewrap_database_key"]

_FORMAT = 1
_AAD = b"selfmem database key v1"
_KEYS_HINT = "MEMORY_ENCRYPTION_KEYS (or MEMORY_ENCRYPTION_KEYS_FILE)"


def key_file(database: Path) -> Path:
    """Where the wrapped key of ``database`` lives."""
    return database.with_name(database.name + ".key")


def database_key(database: Path, config: MemoryConfig) -> str | None:
    """The libSQL ``encryption_key`` for ``database``, or ``None`` when it is not encrypted.

    Creates the key (and its file) for a new database when ``encrypt_database`` is on.
    Every refusal names the setting to change: an encrypted database opened without
    encryption, a plaintext one opened with it, a key wrapped by a master key that is
    no longer in the keyring.
    """
    sidecar = key_file(database)
    if not config.encrypt_database:
        if sidecar.exists():
            raise ConfigurationError(
                f"{database.name} is encrypted ({sidecar.name} is beside it): set "
                f"MEMORY_ENCRYPT_DATABASE=true and {_KEYS_HINT}",
                key="MEMORY_ENCRYPT_DATABASE",
            )
        return None
    keyring = _keyring(config)
    if sidecar.exists():
        return _unwrap(sidecar, keyring).hex()
    if database.exists() and database.stat().st_size > 0:
        raise ConfigurationError(
            f"{database.name} exists and is not encrypted; encryption applies to a new "
            "database: export it (memory export), open a new file with "
            "MEMORY_ENCRYPT_DATABASE=true and import it (memory import)",
            key="MEMORY_ENCRYPT_DATABASE",
        )
    key = new_data_key()
    _write(sidecar, keyring.active_id, seal(keyring.active_key, key, _AAD))
    return key.hex()


def rewrap_database_key(database: Path, config: MemoryConfig) -> bool:
    """Re-wrap ``database``'s key with the active master key; ``False`` if it already was."""
    keyring = _keyring(config)
    sidecar = key_file(database)
    if not sidecar.exists():
        raise ConfigurationError(
            f"{database.name} has no key file ({sidecar.name}); it is not encrypted",
            key="MEMORY_ENCRYPT_DATABASE",
        )
    if _read(sidecar)[0] == keyring.active_id:
        return False
    key = _unwrap(sidecar, keyring)
    _write(sidecar, keyring.active_id, seal(keyring.active_key, key, _AAD))
    return True


def _keyring(config: MemoryConfig) -> Keyring:
    keyring = Keyring.from_config(config)
    if keyring is None:
        raise ConfigurationError(
            f"MEMORY_ENCRYPT_DATABASE=true needs master keys: set {_KEYS_HINT}",
            key="MEMORY_ENCRYPTION_KEYS",
        )
    return keyring


def _read(sidecar: Path) -> tuple[str, bytes]:
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        if data.get("format") != _FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        return str(data["kid"]), b64d(str(data["wrapped"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot read the database key file {sidecar.name}: {exc}",
            key="MEMORY_ENCRYPT_DATABASE",
        ) from exc


def _unwrap(sidecar: Path, keyring: Keyring) -> bytes:
    kid, wrapped = _read(sidecar)
    master = keyring.key(kid)
    if master is None:
        raise ConfigurationError(
            f"the database key is wrapped by master key {kid!r}, which is not in "
            f"{_KEYS_HINT} (configured: {', '.join(keyring.ids)})",
            key="MEMORY_ENCRYPTION_KEYS",
        )
    return open_sealed(master, wrapped, _AAD, key_id=kid)


def _write(sidecar: Path, kid: str, wrapped: bytes) -> None:
    body = json.dumps({"format": _FORMAT, "kid": kid, "wrapped": b64e(wrapped)})
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=sidecar.name, suffix=".tmp", dir=sidecar.parent)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, body.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, sidecar)
    dir_fd = os.open(sidecar.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
