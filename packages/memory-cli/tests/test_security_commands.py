"""memory token / audit / retention / erase / keys against a real database file."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from memory_core import MemoryConfig, SelfLearningMemory
from memory_core.security import TokenStore


def _memory(env: Any) -> SelfLearningMemory:
    return SelfLearningMemory.from_config(
        MemoryConfig(database_url=env.database_url, cache_backend="none", embedding_provider="none")
    )


def test_token_create_list_revoke_rotate(env: Any, run: Any, run_json: Callable[..., Any]) -> None:
    created = run_json("--tenant", "team-a", "token", "create", "--scope", "write", "--name", "ci")
    token, tid = created["token"], created["id"]
    assert token.startswith(f"mcm_{tid}_") and created["tenant"] == "team-a"
    assert created["scope"] == "write" and created["name"] == "ci"
    shown = run("--tenant", "team-a", "token", "create", "--scope", "read").stdout
    assert "shown only now" in shown and "mcm_" in shown

    listed = run_json("--tenant", "team-a", "token", "list")
    assert {t["id"] for t in listed} >= {tid} and len(listed) == 2
    assert run_json("token", "list") == []  # the default tenant has none
    assert len(run_json("token", "list", "--all-tenants")) == 2
    text = run("--tenant", "team-a", "token", "list").stdout
    assert tid in text and token.split("_", 2)[2] not in text and "mcm_" not in text

    memory = _memory(env)
    try:
        store = TokenStore(memory.storage, cache_seconds=0)
        assert store.verify(token) is not None and store.verify(token).tenant == "team-a"  # type: ignore[union-attr]
        rotated = run_json("token", "rotate", tid)
        assert rotated["token"] != token and rotated["tenant"] == "team-a"
        assert store.verify(token) is None and store.verify(rotated["token"]) is not None
        revoked = run_json("token", "revoke", rotated["id"])
        assert revoked["revoked_at"] is not None and store.verify(rotated["token"]) is None
    finally:
        memory.close()
    everything = run_json("--tenant", "team-a", "token", "list", "--revoked")
    assert sum(1 for t in everything if t["revoked_at"]) == 2

    bad = run("token", "create", "--scope", "root", code=2)
    assert "scope must be one of read, write, admin" in bad.stderr
    missing = run("token", "revoke", "000000000000", code=1)
    assert "token not found" in missing.stderr

    audit = run_json("--tenant", "team-a", "audit", "list", "--operation", "token_create")
    assert len(audit) == 2 and all(r["principal"].startswith("cli:") for r in audit)
    exported = run("--tenant", "team-a", "audit", "export").stdout
    ops = [json.loads(line)["operation"] for line in exported.splitlines()]
    assert ops.count("token_rotate") == 1 and ops.count("token_revoke") == 1
    assert token not in exported and rotated["token"] not in exported


def test_audit_list_and_export_filters(
    env: Any, run: Any, run_json: Callable[..., Any], seeded: dict[str, str], tmp_path: Path
) -> None:
    starts = run_json("audit", "list", "--operation", "start_episode")
    assert len(starts) == 4 and {r["target_ids"][0] for r in starts} == set(seeded.values())
    assert run_json("audit", "list", "--operation", "start_episode", "-n", "2") == starts[-2:]
    assert run_json("audit", "list", "--since", "2999-01-01") == []
    assert run_json("audit", "list", "--principal", "nobody") == []
    out = tmp_path / "audit.jsonl"
    run("audit", "export", "--output", str(out), "--operation", "complete_episode")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 3 and {r["operation"] for r in lines} == {"complete_episode"}
    assert set(lines[0]) == {
        "id",
        "time",
        "tenant",
        "principal",
        "operation",
        "target_ids",
        "outcome",
    }
    table = run("audit", "list").stdout
    assert "start_episode" in table and "principal" in table
    bad = run("audit", "list", "--since", "yesterday", code=2)
    assert "--since" in bad.stderr


def test_retention_show_and_apply_with_dry_run(
    env: Any, run: Any, run_json: Callable[..., Any], seeded: dict[str, str]
) -> None:
    policy = {"MEMORY_RETENTION": json.dumps({"*": {"max_episodes": 1}})}
    shown = run_json("retention", "show", env=policy)
    assert shown["policies"]["*"]["max_episodes"] == 1
    assert shown["applies_to_current_tenant"]["max_episodes"] == 1
    assert "no retention policies" in run("retention", "show").stdout

    [dry] = run_json("retention", "apply", "--dry-run", env=policy)
    assert dry["dry_run"] is True and len(dry["episodes"]) == 2
    assert {e["reason"] for e in dry["episodes"]} == {"max_episodes"}
    assert len(run_json("episode", "list")["items"]) == 4  # nothing changed
    assert seeded["open"] not in {e["id"] for e in dry["episodes"]}  # in progress: kept

    [done] = run_json("retention", "apply", env=policy)
    assert done["erased"] == 2
    left = {e["id"] for e in run_json("episode", "list")["items"]}
    assert left.isdisjoint(e["id"] for e in dry["episodes"]) and len(left) == 2
    records = run_json("audit", "list", "--operation", "retention")
    assert len(records) == 1 and records[0]["principal"].startswith("cli:")


def test_erase_episode_matching_and_tenant(
    env: Any, run: Any, run_json: Callable[..., Any], seeded: dict[str, str]
) -> None:
    eid = seeded["web-ok"]
    refused = run("erase", "episode", eid, code=1)
    assert "without --yes" in refused.stderr
    dry = run_json("erase", "episode", eid, "--dry-run")
    assert dry["episode_ids"] == [eid] and dry["dry_run"] is True
    run_json("episode", "show", eid)  # still there
    done = run_json("erase", "episode", eid, "--yes")
    assert done["episode_ids"] == [eid] and done["dry_run"] is False
    assert "not found" in run("episode", "show", eid, code=1).stderr
    assert "not found" in run("erase", "episode", eid, "--yes", code=1).stderr

    empty = run("erase", "matching", "--yes", code=2)
    assert "empty filter" in empty.stderr
    would = run_json("erase", "matching", "--domain", "web", "--dry-run")
    assert would["episode_ids"] == [seeded["web-fail"]]
    gone = run_json("erase", "matching", "--domain", "web", "--yes")
    assert gone["episode_ids"] == [seeded["web-fail"]]

    run_json("--tenant", "team-b", "episode", "start", "someone else's task")
    token = run_json("token", "create", "--scope", "read")["token"]
    everything = run_json("erase", "tenant", "default", "--yes")
    assert sorted(everything["episode_ids"]) == sorted([seeded["data-ok"], seeded["open"]])
    assert run_json("episode", "list")["items"] == []
    assert len(run_json("--tenant", "team-b", "episode", "list")["items"]) == 1  # other tenant kept
    assert all(t["revoked_at"] for t in run_json("token", "list", "--revoked"))
    memory = _memory(env)
    try:
        assert TokenStore(memory.storage, cache_seconds=0).verify(token) is None
    finally:
        memory.close()
    ops = {r["operation"] for r in run_json("audit", "list", "-n", "500")}
    assert {"erase_episode", "erase_matching", "erase_tenant"} <= ops


def test_keys_generate_rotate_usage(env: Any, run: Any, run_json: Callable[..., Any]) -> None:
    first = run_json("keys", "generate", "--id", "k1")
    kid, _, material = first["entry"].partition(":")
    assert kid == "k1" and len(base64.b64decode(material)) == 32
    assert run("keys", "generate", "--id", "bad id!", code=2).stderr.startswith("Error: --id")
    plain = run("keys", "generate").stdout.strip()
    assert plain.startswith("k1:") and plain != first["entry"]
    assert "not configured" in run("keys", "rotate", code=2).stderr

    one = {"MEMORY_ENCRYPTION_KEYS": first["entry"]}
    for i in range(3):
        run_json(
            "episode", "start", f"secret task {i}", "--metadata", '{"sensitive": true}', env=one
        )
    assert run_json("keys", "usage", env=one) == {"k1": 3}
    second = run_json("keys", "generate", "--id", "k2")["entry"]
    both = {"MEMORY_ENCRYPTION_KEYS": f"{first['entry']},{second}"}
    rotated = run_json("keys", "rotate", "--batch", "2", env=both)
    assert rotated == {"rewrapped": 3, "usage": {"k2": 3}}
    assert run_json("keys", "rotate", env=both)["rewrapped"] == 0
    # the old key can go: the episodes open with k2 alone
    only_new = {"MEMORY_ENCRYPTION_KEYS": second}
    assert len(run_json("episode", "list", env=only_new)["items"]) == 3
    assert any(r["operation"] == "rotate_keys" for r in run_json("audit", "list", env=both))


def test_keys_rotate_rewraps_an_encrypted_database(
    env: Any, run: Any, run_json: Callable[..., Any]
) -> None:
    k1 = run_json("keys", "generate", "--id", "k1")["entry"]
    k2 = run_json("keys", "generate", "--id", "k2")["entry"]
    one = {"MEMORY_ENCRYPT_DATABASE": "true", "MEMORY_ENCRYPTION_KEYS": k1}
    secret = run_json(
        "episode", "start", "sensitive but searchable", "--metadata", '{"sensitive": true}', env=one
    )
    assert set(secret) >= {"id"}
    both = {**one, "MEMORY_ENCRYPTION_KEYS": f"{k1},{k2}"}
    assert run_json("keys", "rotate", env=both) == {
        "database": "memory.db",
        "rewrapped": True,
        "master_key": "k2",
    }
    assert run_json("keys", "rotate", env=both)["rewrapped"] is False
    only_new = {**one, "MEMORY_ENCRYPTION_KEYS": k2}
    assert [e["id"] for e in run_json("episode", "list", env=only_new)["items"]] == [secret["id"]]
    refused = run("episode", "list", code=2, env={"MEMORY_ENCRYPTION_KEYS": k2})
    assert (
        "memory.db is encrypted" in refused.stderr and "MEMORY_ENCRYPT_DATABASE" in refused.stderr
    )


def test_security_commands_are_reachable() -> None:
    from memory_cli._helpdoc import command_paths

    names = {" ".join(p) for p in command_paths()}
    assert {
        "token create", "token list", "token revoke", "token rotate",
        "audit list", "audit export",
        "retention show", "retention apply",
        "erase episode", "erase matching", "erase tenant",
        "keys generate", "keys rotate", "keys usage",
    } <= names  # fmt: skip
