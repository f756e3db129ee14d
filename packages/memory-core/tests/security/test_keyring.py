"""Keyring parsing: formats, errors naming the setting, no key material in messages."""

from __future__ import annotations

import base64
import json
import os

import pytest
from memory_core import ConfigurationError, MemoryConfig
from memory_core.security import Keyring, generate_key


def _b64(n: int = 32) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def test_formats_and_active_key() -> None:
    k1, k2 = _b64(), _b64()
    ring = Keyring.parse(f"k1:{k1}, k2:{k2}")
    assert ring.ids == ["k1", "k2"] and ring.active_id == "k2"
    assert ring.key("k1") == base64.b64decode(k1)
    assert Keyring.parse(json.dumps({"a": k1, "b": k2}), "a").active_id == "a"
    urlsafe = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    assert len(Keyring.parse(f"u:{urlsafe}").active_key) == 32
    assert len(base64.b64decode(generate_key())) == 32
    assert k1 not in repr(ring) and k1 not in str(ring)
    config = MemoryConfig(encryption_keys=f"k1:{k1}", encryption_active_key="k1")
    ring2 = Keyring.from_config(config)
    assert ring2 is not None and ring2.active_id == "k1"
    assert Keyring.from_config(MemoryConfig()) is None


@pytest.mark.parametrize(
    ("text", "active", "words"),
    [
        ("", None, "no keys"),
        ("nocolon", None, "id:base64key"),
        ("k1:" + _b64(16), None, "32"),
        ("k1:***notbase64***", None, "base64"),
        ("bad id!:" + _b64(), None, "key id"),
        (f"k1:{_b64()},k1:{_b64()}", None, "twice"),
        (f"k1:{_b64()}", "k9", "active"),
        ("{not json", None, "JSON"),
        ('{"k1": 5}', None, "base64 strings"),
    ],
)
def test_bad_keyrings_are_clear_and_do_not_echo_keys(
    text: str, active: str | None, words: str
) -> None:
    with pytest.raises(ConfigurationError) as err:
        Keyring.parse(text, active)
    assert words in str(err.value)
    assert err.value.key in ("MEMORY_ENCRYPTION_KEYS", "MEMORY_ENCRYPTION_ACTIVE_KEY")
    for part in text.replace(",", ":").split(":"):
        if len(part) >= 16:
            assert part not in str(err.value)
