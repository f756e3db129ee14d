"""``AuditLog``: who did what to which records, and how it ended.

Each record is (time, tenant, principal, operation, target ids, outcome), stored through
the backend's ``RecordStore`` as kind ``"audit"`` in the tenant it concerns. It never
holds payloads (task text, steps, queries) or secrets: the API takes only these fields.
Audit records do not name episodes as record links, so erasing an episode keeps the
record that it was erased.

The principal of library calls is the one set with ``acting_as`` (a context variable; the
MCP server sets it per request from the token, the CLI from the OS user), else
``"library"``::

    with acting_as("token:ab12cd34"):
        memory.delete_episode(eid)          # audited as principal token:ab12cd34

    log = memory.audit_log
    log.query("default", operation="delete_episode", since=yesterday)
    log.export_jsonl("default", sys.stderr)
    log.purge("default", max_age_days=365)
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import IO, Any

from pydantic import BaseModel, ConfigDict

from memory_core._errors import ConfigurationError, InvalidInputError
from memory_core._models import utcnow
from memory_core._protocols import RecordStore
from memory_core.security._system import AUDIT_KIND

__all__ = ["AuditLog", "AuditRecord", "acting_as", "current_principal"]

log = logging.getLogger("memory_core.audit")

_PRINCIPAL: contextvars.ContextVar[str] = contextvars.ContextVar(
    "memory_core_principal", default="library"
)
_OPERATION = re.compile(r"[A-Za-z0-9_.:/-]{1,64}")
_MAX_PRINCIPAL = 256
_MAX_TARGETS = 1_000
_MAX_TARGET = 256
_MAX_OUTCOME = 128
_PAGE = 500


def current_principal() -> str:
    return _PRINCIPAL.get()


@contextlib.contextmanager
def acting_as(principal: str) -> Iterator[None]:
    """Attribute the library operations inside the block to ``principal``."""
    _check_len(principal, "principal", _MAX_PRINCIPAL)
    token = _PRINCIPAL.set(principal)
    try:
        yield
    finally:
        _PRINCIPAL.reset(token)


class AuditRecord(BaseModel):
    """One audited operation. ``outcome`` is ``ok``, ``denied``, ``error:<Type>``, ..."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    time: datetime
    tenant: str
    principal: str
    operation: str
    target_ids: list[str]
    outcome: str


class AuditLog:
    """Append, query, export and purge audit records of a ``RecordStore``.

    Args:
        store: the storage backend (must offer records for ``query``/``purge``; without
            them ``append`` only logs).
        enabled: when false, ``append`` does nothing.
    """

    def __init__(self, store: object, *, enabled: bool = True) -> None:
        self._store = store if isinstance(store, RecordStore) else None
        self.enabled = enabled

    def _records(self) -> RecordStore:
        if self._store is None:
            raise ConfigurationError(
                "the audit log needs a storage backend with records (RecordStore)",
                key="storage_backend",
            )
        return self._store

    def make(
        self,
        tenant: str,
        operation: str,
        *,
        principal: str | None = None,
        target_ids: Iterable[object] = (),
        outcome: str = "ok",
    ) -> AuditRecord | None:
        """The checked record ``append`` would store, without storing it (``None`` when
        disabled): for a write that stores its audit record in its own transaction
        (``update_episode``) through ``RecordStore.put_record``'s arguments
        ``(AUDIT_KIND, record.id, AuditLog.data(record))``."""
        if not self.enabled:
            return None
        if not isinstance(operation, str) or not _OPERATION.fullmatch(operation):
            raise InvalidInputError(
                "operation must be 1-64 letters, digits or '_.:/-'", field="operation", limit=64
            )
        who = current_principal() if principal is None else principal
        _check_len(who, "principal", _MAX_PRINCIPAL)
        _check_len(outcome, "outcome", _MAX_OUTCOME)
        targets = [str(t) for t in target_ids]
        if len(targets) > _MAX_TARGETS:
            raise InvalidInputError(
                f"at most {_MAX_TARGETS} target ids per audit record",
                field="target_ids",
                limit=_MAX_TARGETS,
            )
        for t in targets:
            _check_len(t, "target_ids", _MAX_TARGET)
        now = utcnow()
        record = AuditRecord(
            id=f"{time.time_ns():020d}-{secrets.token_hex(4)}",
            time=now,
            tenant=tenant,
            principal=who,
            operation=operation,
            target_ids=targets,
            outcome=outcome,
        )
        return record

    @staticmethod
    def data(record: AuditRecord) -> dict[str, Any]:
        """The stored form of a record (its id is the record's key)."""
        return record.model_dump(mode="json", exclude={"id"})

    def append(
        self,
        tenant: str,
        operation: str,
        *,
        principal: str | None = None,
        target_ids: Iterable[object] = (),
        outcome: str = "ok",
    ) -> AuditRecord | None:
        """Store one record; returns it (``None`` when disabled). Raises
        ``InvalidInputError`` for a malformed operation, principal, target or outcome."""
        record = self.make(
            tenant, operation, principal=principal, target_ids=target_ids, outcome=outcome
        )
        if record is None:
            return None
        who, targets = record.principal, record.target_ids
        log.debug("audit %s by %s on %d target(s): %s", operation, who, len(targets), outcome)
        if self._store is not None:
            self._store.put_record(tenant, AUDIT_KIND, record.id, self.data(record))
        return record

    def iter_records(self, tenant: str) -> Iterator[tuple[int, AuditRecord]]:
        """(seq, record) in insertion order (oldest first), paged from the store."""
        store = self._records()
        after = 0
        while True:
            page = store.list_records(tenant, AUDIT_KIND, limit=_PAGE, after_seq=after)
            for seq, rid, data in page:
                yield seq, AuditRecord(id=rid, **data)
            if len(page) < _PAGE:
                return
            after = page[-1][0]

    def query(
        self,
        tenant: str,
        *,
        operation: str | None = None,
        principal: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = 1_000,
    ) -> list[AuditRecord]:
        """Records matching every given filter (``until`` exclusive), oldest first."""
        out: list[AuditRecord] = []
        for _, r in self.iter_records(tenant):
            if until is not None and r.time >= until:
                break  # insertion order is time order
            if (
                (operation is None or r.operation == operation)
                and (principal is None or r.principal == principal)
                and (since is None or r.time >= since)
            ):
                out.append(r)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def export_jsonl(self, tenant: str, out: IO[str], **filters: Any) -> int:
        """Write matching records as JSON lines; returns how many. Filters as ``query``."""
        n = 0
        for r in self.query(tenant, limit=None, **filters):
            out.write(json.dumps(r.model_dump(mode="json"), sort_keys=True) + "\n")
            n += 1
        return n

    def purge(self, tenant: str, *, max_age_days: float, dry_run: bool = False) -> int:
        """Delete records older than ``max_age_days``; returns how many (would) go."""
        if not max_age_days > 0:
            raise InvalidInputError("max_age_days must be > 0", field="max_age_days", limit=0)
        cutoff = utcnow() - timedelta(days=max_age_days)
        old = []
        for _, r in self.iter_records(tenant):
            if r.time >= cutoff:
                break
            old.append(r.id)
        if not dry_run:
            store = self._records()
            for rid in old:
                store.delete_record(tenant, AUDIT_KIND, rid)
        return len(old)


def _check_len(value: object, field: str, limit: int) -> None:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidInputError(
            f"{field} must be a non-empty string of at most {limit} characters",
            field=field,
            limit=limit,
        )
