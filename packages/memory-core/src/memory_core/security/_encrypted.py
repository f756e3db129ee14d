"""``EncryptedStorage``: encrypts sensitive episodes before they reach a storage backend.

An episode is *sensitive* when it is started with ``metadata={"sensitive": True}`` or its
tenant is listed in ``sensitive_tenants`` (``"*"``: every tenant). Envelope encryption:

* each sensitive episode gets a random 256-bit data key, wrapped (AES-256-GCM) with the
  keyring's active master key and stored as a record ``("dek", episode id)`` that names the
  episode, with the master key's id. ``delete_episode`` removes that record in the same
  transaction, so any copy of the ciphertext left behind (backups, free pages) is useless;
* its text is sealed with that data key (``_sealing.EpisodeSealer``): task description, step action + parameters +
  output + message + step metadata, outcome verdict + reason + artifacts + sub-goals, and
  the reflection. Each sealed field is ``menc1:<base64(nonce | ciphertext | tag)>``, bound
  to (tenant, episode, field);
* key rotation re-wraps the data keys (``rotate_keys``), not the episodes.

What stays in clear text, because filters, ranking and statistics need it: ids, tenant,
task type, context (domain, language, framework, complexity, tags), step numbers, tool
names, step status, latency, tokens, timestamps, reward numbers, pattern ids and episode
metadata, except the notes and lessons ``update_episode`` adds there (agent-written text,
sealed like the steps: ``_sealing.SEALED_METADATA``). Do not put secrets in the rest.

Search on sensitive episodes:

* no vectors are computed or stored for them (``SelfLearningMemory`` does not send their
  text to the embedding provider, and this wrapper drops any vector that reaches it);
* the full-text index only ever sees the sealed fields, i.e. random base64 tokens that
  match no real query; lexical and semantic retrieval therefore never return them;
* they are found by id (``get_episode``) and by filters (``list_episodes``,
  ``count_episodes``: domain, task type, outcome, status, language, framework, tags, dates),
  and are returned decrypted;
* they feed only *structural* patterns: tool sequences (description rebuilt without the
  task text) and context patterns. Decision-point and error-recovery patterns, whose keys
  and descriptions quote step text, are not extracted from them, so no pattern, heuristic
  or pattern-search index holds their text.

The cache never holds their plaintext: ``SelfLearningMemory`` skips caching them and any
retrieval result that contains one (``contains_sensitive``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from memory_core._errors import ConfigurationError, InvalidInputError
from memory_core._models import (
    EmbeddingRecord,
    Episode,
    EpisodeFilter,
    EpisodePage,
    EpisodeSummary,
    ExecutionStep,
    Extraction,
    Pattern,
    PatternKind,
    utcnow,
)
from memory_core._protocols import RecordStore, StorageBackend
from memory_core.extraction import extract_patterns
from memory_core.security._crypto import (
    b64d,
    b64e,
    new_data_key,
    open_sealed,
    seal,
)
from memory_core.security._errors import DecryptionError
from memory_core.security._keyring import Keyring
from memory_core.security._sealing import EpisodeSealer, is_sealed
from memory_core.security._system import DEK_KIND, ENCRYPTED_TENANT_KIND, SYSTEM_TENANT
from memory_core.storage.forwarding import ForwardingStorage

if TYPE_CHECKING:
    from memory_core._config import MemoryConfig

__all__ = [
    "EncryptedStorage",
    "sensitive_flag",
    "structural_patterns",
    "wrap_if_configured",
]

_STRUCTURAL = (PatternKind.TOOL_SEQUENCE, PatternKind.CONTEXT_PATTERN)
_NO_KEY = (
    "this episode is sensitive but no encryption key is configured; set "
    "MEMORY_ENCRYPTION_KEYS (or MEMORY_ENCRYPTION_KEYS_FILE) to 'id:base64-32-byte-key'"
)


def structural_patterns(patterns: Iterable[Pattern]) -> list[Pattern]:
    """The patterns a sensitive episode may contribute: no text of the episode in them."""
    out = []
    for p in patterns:
        if p.kind not in _STRUCTURAL:
            continue
        if p.kind is PatternKind.TOOL_SEQUENCE:
            where = ", ".join(x for x in (p.domain, p.language) if x)
            task = p.task_type.value if p.task_type else "any"
            p = p.model_copy(
                update={
                    "description": f"Tool sequence for {task} tasks"
                    + (f" ({where})" if where else "")
                    + f": {' → '.join(p.tools)}."
                }
            )
        out.append(p)
    return out


class EncryptedStorage(ForwardingStorage):
    """A ``StorageBackend`` (and ``RecordStore``) wrapper; see the module docstring.

    Args:
        inner: the real backend; must offer records (``RecordStore``) for the data keys.
        keyring: master keys, or ``None`` (then sensitive writes raise
            ``ConfigurationError`` and sealed reads raise ``DecryptionError``).
        sensitive_tenants: tenants whose every episode is sensitive; ``"*"`` for all.
        key_cache_size: unwrapped data keys kept in process memory (LRU).

    Only the calls that carry episode text are overridden; the rest (counts, patterns,
    records, embeddings bookkeeping) go to ``inner`` unchanged (``ForwardingStorage``).
    ``missing_embeddings`` lists sensitive episodes too (they never get a vector): the
    embedding worker skips them, and ``after`` moves past them.
    """

    encrypts = True

    def __init__(
        self,
        inner: StorageBackend,
        keyring: Keyring | None,
        *,
        sensitive_tenants: Iterable[str] = (),
        key_cache_size: int = 10_000,
    ) -> None:
        if not isinstance(inner, RecordStore):
            raise ConfigurationError(
                f"encryption at rest needs a storage backend with records; "
                f"{getattr(inner, 'name', type(inner).__name__)} has none",
                key="MEMORY_ENCRYPTION_KEYS",
            )
        self.inner = inner
        self.name = inner.name
        self.keyring = keyring
        self._tenants = frozenset(sensitive_tenants)
        self._keys: OrderedDict[tuple[str, UUID], bytes | None] = OrderedDict()
        self._key_cache_size = key_cache_size
        self._registered: set[str] = set()
        self._lock = threading.Lock()
        self._sealer = EpisodeSealer(self._data_key)

    @property
    def records(self) -> RecordStore:
        return cast(RecordStore, self.inner)

    def _open_episode(self, ep: Episode | None) -> Episode | None:
        """The episode with its sealed fields opened (clear-text episodes unchanged)."""
        return self._sealer.open_episode(ep)

    def _backend(self, tenant: str) -> StorageBackend:
        return self.inner

    def _whole(self) -> StorageBackend:
        return self.inner

    # -- policy ------------------------------------------------------------------------
    def tenant_is_sensitive(self, tenant: str) -> bool:
        return "*" in self._tenants or tenant in self._tenants

    def wants_encryption(self, episode: Episode) -> bool:
        return self.tenant_is_sensitive(episode.tenant) or episode.metadata.get("sensitive") is True

    def is_sensitive(self, tenant: str, episode_id: UUID) -> bool:
        """Whether the stored episode is encrypted (it has a data key)."""
        return self._data_key(tenant, episode_id) is not None

    def contains_sensitive(self, tenant: str, episode_ids: Iterable[UUID]) -> bool:
        """Whether any of these episodes is encrypted: such results must not be cached."""
        return any(self.is_sensitive(tenant, e) for e in episode_ids)

    # -- data keys ---------------------------------------------------------------------
    def _remember(self, tenant: str, episode_id: UUID, key: bytes | None) -> None:
        with self._lock:
            self._keys[(tenant, episode_id)] = key
            self._keys.move_to_end((tenant, episode_id))
            while len(self._keys) > self._key_cache_size:
                self._keys.popitem(last=False)

    def _forget(self, tenant: str, episode_id: UUID) -> None:
        with self._lock:
            self._keys.pop((tenant, episode_id), None)

    def _data_key(self, tenant: str, episode_id: UUID) -> bytes | None:
        with self._lock:
            if (tenant, episode_id) in self._keys:
                self._keys.move_to_end((tenant, episode_id))
                return self._keys[(tenant, episode_id)]
        record = self.records.get_record(tenant, DEK_KIND, str(episode_id))
        key = None if record is None else self.unwrap(tenant, episode_id, record)
        self._remember(tenant, episode_id, key)
        return key

    def unwrap(self, tenant: str, episode_id: UUID, record: dict[str, Any]) -> bytes:
        """The data key inside a ``dek`` record."""
        kid = str(record.get("kid", ""))
        master = self.keyring.key(kid) if self.keyring is not None else None
        if master is None:
            raise DecryptionError(
                f"episode {episode_id} is encrypted with key id {kid!r}, which is not in the "
                "keyring (MEMORY_ENCRYPTION_KEYS)",
                key_id=kid,
            )
        return open_sealed(
            master, b64d(str(record["dek"])), _dek_aad(tenant, episode_id), key_id=kid
        )

    def wrap(self, tenant: str, episode_id: UUID, key: bytes) -> dict[str, Any]:
        """A ``dek`` record for a data key, wrapped with the active master key."""
        assert self.keyring is not None
        return {
            "v": 1,
            "kid": self.keyring.active_id,
            "dek": b64e(seal(self.keyring.active_key, key, _dek_aad(tenant, episode_id))),
            "wrapped_at": utcnow().isoformat(),
        }

    def _new_data_key(self, tenant: str, episode_id: UUID) -> bytes:
        if self.keyring is None:
            raise ConfigurationError(_NO_KEY, key="MEMORY_ENCRYPTION_KEYS")
        key = new_data_key()
        if tenant not in self._registered:
            self.records.put_record(
                SYSTEM_TENANT, ENCRYPTED_TENANT_KIND, tenant, {"tenant": tenant}
            )
            self._registered.add(tenant)
        self.records.put_record(
            tenant,
            DEK_KIND,
            str(episode_id),
            self.wrap(tenant, episode_id, key),
            episode_id=episode_id,
        )
        self._remember(tenant, episode_id, key)
        return key

    def _sensitive_extraction(self, episode: Episode, extraction: Extraction) -> Extraction:
        return Extraction(
            patterns=structural_patterns(extraction.patterns),
            heuristics=list(extraction.heuristics),
            embeddings=[],
        )

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._keys.clear()
        self.inner.close()

    def health(self) -> dict[str, Any]:
        detail = dict(self.inner.health())
        detail["encryption"] = {
            "keys": self.keyring.ids if self.keyring else [],
            "active": self.keyring.active_id if self.keyring else None,
            "sensitive_tenants": sorted(self._tenants),
        }
        return detail

    # -- episodes ----------------------------------------------------------------------
    def create_episode(self, episode: Episode) -> None:
        if not self.wants_encryption(episode):
            self.inner.create_episode(episode)
            self._remember(episode.tenant, episode.id, None)
            return
        existing = self.records.get_record(episode.tenant, DEK_KIND, str(episode.id))
        if existing is not None:
            stored = self.get_episode(episode.tenant, episode.id)
            if stored is not None and _same(stored, episode):
                return  # identical re-insert: idempotent, as the contract asks
            raise InvalidInputError(
                f"another episode with id {episode.id} already exists", field="id"
            )
        key = self._new_data_key(episode.tenant, episode.id)
        try:
            self.inner.create_episode(self._sealer.seal_episode(key, episode))
        except BaseException:
            self.records.delete_record(episode.tenant, DEK_KIND, str(episode.id))
            self._forget(episode.tenant, episode.id)
            raise

    def append_steps(self, tenant: str, episode_id: UUID, steps: Sequence[ExecutionStep]) -> int:
        key = self._data_key(tenant, episode_id)
        if key is not None:
            steps = [self._sealer.seal_step(key, tenant, episode_id, s) for s in steps]
        return self.inner.append_steps(tenant, episode_id, steps)

    def append_next_steps(
        self,
        tenant: str,
        episode_id: UUID,
        steps: Sequence[ExecutionStep],
        unnumbered: Sequence[int],
        prepare: Callable[[list[ExecutionStep]], list[ExecutionStep]] | None = None,
    ) -> tuple[int, list[ExecutionStep]]:
        key = self._data_key(tenant, episode_id)
        if key is None:
            return self.inner.append_next_steps(tenant, episode_id, steps, unnumbered, prepare)
        sealing_key = key

        def seal(numbered: list[ExecutionStep]) -> list[ExecutionStep]:
            # The seal binds each step to its number, so it happens once the number is known.
            ready = prepare(numbered) if prepare is not None else numbered
            return [self._sealer.seal_step(sealing_key, tenant, episode_id, s) for s in ready]

        return self.inner.append_next_steps(tenant, episode_id, steps, unnumbered, seal)

    def get_episode(self, tenant: str, episode_id: UUID) -> Episode | None:
        return self._sealer.open_episode(self.inner.get_episode(tenant, episode_id))

    def get_steps(
        self, tenant: str, episode_id: UUID, step_numbers: Sequence[int]
    ) -> list[ExecutionStep]:
        steps = self.inner.get_steps(tenant, episode_id, step_numbers)
        if not any(is_sealed(s.action) for s in steps):
            return steps
        key = self._data_key(tenant, episode_id)
        if key is None:
            return steps
        return [self._sealer.open_step(key, tenant, episode_id, s) for s in steps]

    def get_steps_many(
        self, tenant: str, wanted: Sequence[tuple[UUID, Sequence[int]]]
    ) -> dict[UUID, list[ExecutionStep]]:
        found = self.inner.get_steps_many(tenant, wanted)
        for episode_id, steps in found.items():
            if any(is_sealed(s.action) for s in steps):
                key = self._data_key(tenant, episode_id)
                if key is not None:
                    found[episode_id] = [
                        self._sealer.open_step(key, tenant, episode_id, s) for s in steps
                    ]
        return found

    def get_summaries(self, tenant: str, episode_ids: Sequence[UUID]) -> list[EpisodeSummary]:
        return [self._sealer.open_summary(s) for s in self.inner.get_summaries(tenant, episode_ids)]

    def list_episodes(
        self, tenant: str, filters: EpisodeFilter, limit: int, cursor: str | None = None
    ) -> EpisodePage:
        page = self.inner.list_episodes(tenant, filters, limit, cursor)
        return page.model_copy(update={"items": [self._sealer.open_summary(s) for s in page.items]})

    def complete_episode(self, episode: Episode, extraction: Extraction | None) -> None:
        key = self._data_key(episode.tenant, episode.id)
        if key is None:
            self.inner.complete_episode(episode, extraction)
            return
        kept = (
            structural_patterns(extract_patterns(episode, episode.outcome))
            if episode.outcome
            else []
        )
        kept_ids = {p.id for p in kept}
        sealed = self._sealer.seal_episode(key, episode)
        sealed.pattern_ids = [i for i in episode.pattern_ids if i in kept_ids]
        if extraction is not None:
            extraction = self._sensitive_extraction(episode, extraction)
        self.inner.complete_episode(sealed, extraction)

    def apply_extraction(self, tenant: str, episode_id: UUID, extraction: Extraction) -> None:
        if self.is_sensitive(tenant, episode_id):
            episode = self.get_episode(tenant, episode_id)
            if episode is None:
                return
            extraction = self._sensitive_extraction(episode, extraction)
        self.inner.apply_extraction(tenant, episode_id, extraction)

    def delete_episode(self, tenant: str, episode_id: UUID) -> bool:
        existed = self.inner.delete_episode(tenant, episode_id)
        self._forget(tenant, episode_id)
        return existed

    # -- search ------------------------------------------------------------------------
    def put_embeddings(self, tenant: str, records: Sequence[EmbeddingRecord]) -> None:
        kept = [r for r in records if not self.is_sensitive(tenant, r.episode_id)]
        if kept or not records:
            self.inner.put_embeddings(tenant, kept)

    # -- records -----------------------------------------------------------------------
    def update_episode_tags(self, tenant: str, episode_id: UUID, tags: Sequence[str]) -> Episode:
        ep = self._sealer.open_episode(self.records.update_episode_tags(tenant, episode_id, tags))
        assert ep is not None
        return ep

    def correct_episode(
        self,
        episode: Episode,
        extraction: Extraction,
        *,
        replace_patterns: Sequence[Pattern] = (),
        delete_patterns: Sequence[UUID] = (),
        delete_heuristics: Sequence[UUID] = (),
        record: tuple[str, str, dict[str, Any]] | None = None,
    ) -> Episode:
        """Sealed as ``complete_episode`` seals (never passed through in clear text)."""
        key = self._data_key(episode.tenant, episode.id)
        sealed = episode
        if key is not None:
            kept = (
                {p.id for p in structural_patterns(extract_patterns(episode, episode.outcome))}
                if episode.outcome
                else set()
            )
            sealed = self._sealer.seal_episode(key, episode)
            sealed.pattern_ids = [i for i in episode.pattern_ids if i in kept]
            extraction = self._sensitive_extraction(episode, extraction)
        out = self.records.correct_episode(
            sealed,
            extraction,
            replace_patterns=replace_patterns,
            delete_patterns=delete_patterns,
            delete_heuristics=delete_heuristics,
            record=record,
        )
        opened = self._sealer.open_episode(out)
        assert opened is not None
        return opened

    # -- optional capabilities -----------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        """Operator extensions (``integrity_check``, ``vacuum``, ``backup``...) pass through."""
        if name.startswith("_") or name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def _same(a: Episode, b: Episode) -> bool:
    keys = {"version", "updated_at"}
    return a.model_dump(exclude=keys) == b.model_dump(exclude=keys)


def _dek_aad(tenant: str, episode_id: UUID) -> bytes:
    return f"memory-core/dek/v1|{tenant}|{episode_id}".encode()


def wrap_if_configured(storage: StorageBackend, config: MemoryConfig) -> StorageBackend:
    """``storage`` wrapped in ``EncryptedStorage`` when keys or sensitive tenants are
    configured, else unchanged."""
    if isinstance(storage, EncryptedStorage):
        return storage
    keyring = Keyring.from_config(config)
    if keyring is None and not config.sensitive_tenants:
        return storage
    wrapped = EncryptedStorage(storage, keyring, sensitive_tenants=config.sensitive_tenants)
    # the backend's name is an instance attribute here (it names the wrapped backend)
    return cast(StorageBackend, wrapped)


def sensitive_flag(metadata: dict[str, Any] | None) -> bool:
    return bool(metadata) and metadata.get("sensitive") is True  # type: ignore[union-attr]
