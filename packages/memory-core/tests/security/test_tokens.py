"""Bearer tokens: hashed at rest, bound to tenant and scope, revocable while running."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from memory_core import InvalidInputError, NotFoundError
from memory_core.security import SYSTEM_TENANT, TokenStore
from memory_core.security._system import TOKEN_KIND

from .conftest import MakeMemory, raw_bytes


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_create_verify_list_revoke(durable: MakeMemory, tmp_path: Path) -> None:
    memory = durable()
    store = TokenStore(memory.storage)
    issued = store.create("team-a", "write", name="ci")
    assert issued.token.startswith(f"mcm_{issued.id}_")
    info = store.verify(issued.token)
    assert info is not None and (info.tenant, info.scope, info.name) == ("team-a", "write", "ci")
    assert info.allows("read") and info.allows("write") and not info.allows("admin")
    assert [t.id for t in store.list()] == [issued.id]
    assert store.list(tenant="team-b") == []
    assert issued.token not in repr(issued) and issued.token not in str(issued)

    # hashed at rest: the secret is nowhere in the files, its digest is
    secret = issued.token.split("_", 2)[2]
    record = memory.storage.get_record(SYSTEM_TENANT, TOKEN_KIND, issued.id)  # type: ignore[attr-defined]
    assert record["sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.encode() not in raw_bytes(tmp_path)

    store.revoke(issued.id)
    assert store.verify(issued.token) is None
    assert store.list() == [] and len(store.list(include_revoked=True)) == 1
    with pytest.raises(NotFoundError):
        store.revoke("000000000000")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "Bearer x",
        "mcm_zzzzzzzzzzzz_" + "a" * 43,
        "mcm_000000000000_" + "a" * 43,
        None,
        42,
        "mcm_" + "a" * 5000,
    ],
)
def test_verify_rejects_garbage_without_raising(ephemeral: MakeMemory, bad: object) -> None:
    store = TokenStore(ephemeral().storage)
    assert store.verify(bad) is None  # type: ignore[arg-type]


def test_wrong_secret_and_expiry(ephemeral: MakeMemory) -> None:
    store = TokenStore(ephemeral().storage)
    issued = store.create("t", "read")
    forged = issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")
    assert store.verify(forged) is None
    expired = store.create("t", "admin", expires_in=timedelta(microseconds=1))
    assert store.verify(expired.token) is None


def test_rotation_is_effective_without_restart_across_processes(ephemeral: MakeMemory) -> None:
    memory = ephemeral()
    clock = Clock()
    admin = TokenStore(memory.storage)  # e.g. the CLI
    server = TokenStore(memory.storage, cache_seconds=5.0, clock=clock)  # a running server
    old = admin.create("team-a", "write")
    assert server.verify(old.token) is not None
    new = admin.rotate(old.id)
    assert server.verify(new.token) is not None  # a new token works at once
    assert server.verify(old.token) is not None  # cached: still valid within the window
    clock.now += 5.0
    assert server.verify(old.token) is None  # revocation seen after cache_seconds
    assert admin.verify(old.token) is None  # and at once in the revoking process


@pytest.mark.parametrize(
    ("tenant", "scope", "field"),
    [(SYSTEM_TENANT, "read", "tenant"), ("has space", "read", "tenant"), ("t", "root", "scope")],
)
def test_create_validates(ephemeral: MakeMemory, tenant: str, scope: str, field: str) -> None:
    store = TokenStore(ephemeral().storage)
    with pytest.raises(InvalidInputError) as err:
        store.create(tenant, scope)  # type: ignore[arg-type]
    assert err.value.field == field
    assert store.list(include_revoked=True) == []


def test_verification_cache_is_bounded(ephemeral: MakeMemory) -> None:
    store = TokenStore(ephemeral().storage, cache_size=3)
    tokens = [store.create("t", "read").token for _ in range(10)]
    assert all(store.verify(t) is not None for t in tokens)
    assert len(store._cache) == 3
