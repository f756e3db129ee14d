"""Who runs the CLI, for the audit log: ``cli:<OS user>``.

Security commands run inside ``acting_as(principal())`` so the library's own audit
records (erasure, retention, key rotation) name the operator, and append one record of
their own for what the library does not audit (token changes)."""

from __future__ import annotations

import getpass
from collections.abc import Iterable

from memory_core import SelfLearningMemory


def principal() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in a minimal container
        user = "unknown"
    return f"cli:{user}"[:256]


def audit(
    memory: SelfLearningMemory,
    operation: str,
    tenant: str,
    targets: Iterable[object] = (),
    outcome: str = "ok",
) -> None:
    """One audit record for a CLI operation; ids only, never secrets."""
    memory.audit(operation, principal(), list(targets), outcome, tenant=tenant)
