"""The database schema as versioned, forward-only migrations.

``migrate`` runs at open: it applies every migration newer than the database's version,
each in its own ``BEGIN IMMEDIATE`` transaction together with its ``schema_version``
row, so a crash leaves the database at a whole version and a concurrent opener (another
process) sees the version already applied and skips it. A database whose version is
newer than ``LATEST`` was written by a newer release: it is refused, never touched.

Every index names the query it serves; tenant always comes first because every query is
scoped by tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from memory_core import ExecutionStep, Pattern
from memory_core.errors import SchemaVersionError

from memory_storage_turso._connection import Database, Tx
from memory_storage_turso._episode_json import load_episode
from memory_storage_turso._fts import ITEM_BITS, TOKENIZER, episode_text, pattern_text, step_text
from memory_storage_turso._lexical import INSERT_BATCH, batch_row


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]
    backfill: Callable[[Tx], None] | None = None


V1 = (
    """CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        applied_at TEXT NOT NULL
    )""",
    # One row per tenant: the write generation caches validate against.
    """CREATE TABLE tenants (
        tenant TEXT PRIMARY KEY,
        generation INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
    """CREATE TABLE episodes (
        pk INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        task_type TEXT NOT NULL,
        domain TEXT NOT NULL,
        language TEXT,
        framework TEXT,
        status TEXT NOT NULL,
        outcome TEXT,
        started_at TEXT NOT NULL,
        completed_at TEXT,
        step_count INTEGER NOT NULL DEFAULT 0,
        pending_extraction INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL,
        data TEXT NOT NULL,
        UNIQUE (tenant, id)
    )""",
    # Newest-first listing, keyset cursors and since/until ranges.
    "CREATE INDEX episodes_tenant_time ON episodes (tenant, started_at DESC, id DESC)",
    # Filter by domain (the most common context filter), newest first.
    "CREATE INDEX episodes_tenant_domain ON episodes (tenant, domain, started_at DESC)",
    # Filter by task type, newest first.
    "CREATE INDEX episodes_tenant_type ON episodes (tenant, task_type, started_at DESC)",
    # Filter by outcome (e.g. successes only), newest first.
    "CREATE INDEX episodes_tenant_outcome ON episodes (tenant, outcome, started_at DESC)",
    # pending_extractions(): a partial index holding only the few pending rows.
    "CREATE INDEX episodes_pending ON episodes (completed_at) WHERE pending_extraction = 1",
    """CREATE TABLE episode_tags (
        tenant TEXT NOT NULL,
        tag TEXT NOT NULL,
        episode_pk INTEGER NOT NULL REFERENCES episodes (pk) ON DELETE CASCADE,
        PRIMARY KEY (tenant, tag, episode_pk)
    ) WITHOUT ROWID""",
    # Erasure and cascades: the tags of one episode.
    "CREATE INDEX episode_tags_episode ON episode_tags (episode_pk)",
    # Steps are keyed by (episode, step number): reads are ordered, duplicates rejected.
    """CREATE TABLE steps (
        episode_pk INTEGER NOT NULL REFERENCES episodes (pk) ON DELETE CASCADE,
        step_number INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (episode_pk, step_number)
    ) WITHOUT ROWID""",
    """CREATE TABLE patterns (
        pk INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        task_type TEXT,
        domain TEXT,
        support INTEGER NOT NULL,
        successes REAL NOT NULL,
        applications INTEGER NOT NULL,
        application_successes INTEGER NOT NULL,
        confidence REAL NOT NULL,
        data TEXT NOT NULL,
        UNIQUE (tenant, key),
        UNIQUE (tenant, id)
    )""",
    # list_patterns(): by confidence then support, descending.
    "CREATE INDEX patterns_rank ON patterns (tenant, confidence DESC, support DESC)",
    """CREATE TABLE pattern_sources (
        pattern_pk INTEGER NOT NULL REFERENCES patterns (pk) ON DELETE CASCADE,
        tenant TEXT NOT NULL,
        episode_id TEXT NOT NULL,
        PRIMARY KEY (pattern_pk, episode_id)
    ) WITHOUT ROWID""",
    # Erasure: which patterns cite an episode as evidence.
    "CREATE INDEX pattern_sources_episode ON pattern_sources (tenant, episode_id)",
    """CREATE TABLE pattern_usage (
        pattern_pk INTEGER NOT NULL REFERENCES patterns (pk) ON DELETE CASCADE,
        tenant TEXT NOT NULL,
        episode_id TEXT NOT NULL,
        success INTEGER NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (pattern_pk, episode_id)
    ) WITHOUT ROWID""",
    # Erasure: the usage records an episode produced.
    "CREATE INDEX pattern_usage_episode ON pattern_usage (tenant, episode_id)",
    """CREATE TABLE heuristics (
        tenant TEXT NOT NULL,
        key TEXT NOT NULL,
        id TEXT NOT NULL,
        confidence REAL NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (tenant, key)
    ) WITHOUT ROWID""",
    # list_heuristics(): by confidence, descending, above a floor.
    "CREATE INDEX heuristics_rank ON heuristics (tenant, confidence DESC)",
    # AUTOINCREMENT: vids only grow, so "rows with vid > last seen" is exactly what was
    # added since an in-process matrix was loaded.
    """CREATE TABLE embeddings (
        vid INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        episode_pk INTEGER NOT NULL REFERENCES episodes (pk) ON DELETE CASCADE,
        item INTEGER NOT NULL,
        model_id TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector F32_BLOB NOT NULL CHECK (length(vector) = 4 * dim),
        UNIQUE (episode_pk, item, model_id)
    )""",
    # Vector search: load, and top up, one (tenant, model) matrix in vid order.
    "CREATE INDEX embeddings_matrix ON embeddings (tenant, model_id, vid)",
    # embedding_models() and delete_embeddings(model) across tenants.
    "CREATE INDEX embeddings_model ON embeddings (model_id, dim)",
    # Bumped when vectors of a (tenant, model) are deleted or replaced: matrices reload.
    """CREATE TABLE vector_generations (
        tenant TEXT NOT NULL,
        model_id TEXT NOT NULL,
        generation INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant, model_id)
    ) WITHOUT ROWID""",
)

V2 = (
    # Task texts + reflections (item 0) and step texts (item n): one BM25 space.
    # Contentless: the text lives in episodes/steps already; delete by rowid is enough.
    f"""CREATE VIRTUAL TABLE episode_fts USING fts5 (
        text, content='', contentless_delete=1, tokenize='{TOKENIZER}'
    )""",
    f"""CREATE VIRTUAL TABLE pattern_fts USING fts5 (
        text, content='', contentless_delete=1, tokenize='{TOKENIZER}'
    )""",
)

V3 = (
    # Tenant-scoped JSON records (RecordStore): relationships, checkpoints, audit log...
    # AUTOINCREMENT: seq is insertion order and never reused; a replace keeps its seq.
    """CREATE TABLE records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        episode_id TEXT,
        related_id TEXT,
        data TEXT NOT NULL,
        UNIQUE (tenant, kind, id)
    )""",
    # list_records(kind) in insertion order, paged by seq.
    "CREATE INDEX records_kind ON records (tenant, kind, seq)",
    # list_records(episode_id=...) and erasure, on either episode column.
    "CREATE INDEX records_episode ON records (tenant, episode_id) WHERE episode_id IS NOT NULL",
    "CREATE INDEX records_related ON records (tenant, related_id) WHERE related_id IS NOT NULL",
)


V4 = (
    # Episode lexical search moves to an in-process BM25 index per tenant (_lexical.py).
    # One row per write of an episode's texts (create: task + steps; append_steps: the
    # batch), so logging 100 steps costs one insert, not 100 index updates. A row holds
    # its texts' item numbers, term counts and analysed terms, and the episode id so that
    # loading needs no join. AUTOINCREMENT: seq only grows, so "rows with seq > last seen"
    # is exactly what was added since an index was loaded. The source texts stay in
    # episodes/steps (rebuild_lexical_batches re-derives this table from them).
    """CREATE TABLE lexical_batches (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        episode_pk INTEGER NOT NULL REFERENCES episodes (pk) ON DELETE CASCADE,
        episode_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        items TEXT NOT NULL,
        lengths TEXT NOT NULL,
        terms TEXT NOT NULL
    )""",
    # Loading and topping up one tenant's index in seq order.
    "CREATE INDEX lexical_batches_load ON lexical_batches (tenant, seq)",
    # Erasure and task-text rewrites: the rows of one episode.
    "CREATE INDEX lexical_batches_episode ON lexical_batches (episode_pk)",
    # Bumped when a tenant's texts are erased or rewritten: every process's index reloads.
    """CREATE TABLE lexical_generations (
        tenant TEXT PRIMARY KEY,
        generation INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
    # episode_fts is no longer read, but still written (expand-then-contract): releases
    # of schema 3 search it while a rolling update runs both. Migration 5 drops it.
)

V5 = (
    # Contract phase: nothing reads episode_fts since schema 4, and FTS5 keeps a deleted
    # row's terms in its segments until a merge, so deleted text outlived its episode.
    # A view with do-nothing triggers takes its place: schema-4 processes still running
    # beside this release during a rolling update keep writing to it without failing.
    "DROP TABLE episode_fts",
    "CREATE VIEW episode_fts (rowid, text) AS SELECT NULL, NULL WHERE 0",
    "CREATE TRIGGER episode_fts_insert INSTEAD OF INSERT ON episode_fts BEGIN SELECT 1; END",
    "CREATE TRIGGER episode_fts_update INSTEAD OF UPDATE ON episode_fts BEGIN SELECT 1; END",
    "CREATE TRIGGER episode_fts_delete INSTEAD OF DELETE ON episode_fts BEGIN SELECT 1; END",
)


V7 = (
    # Texts written by a schema-3 or -4 release (still running beside this one during a
    # rolling update) reach only episode_fts, a view since schema 5; today's code never
    # writes it. Its triggers now note the episode, so the check at open reads this small
    # table instead of scanning every episode (11 s at 1M episodes).
    "CREATE TABLE lexical_pending (episode_pk INTEGER PRIMARY KEY)",
    "DROP TRIGGER episode_fts_insert",
    "DROP TRIGGER episode_fts_update",
    f"""CREATE TRIGGER episode_fts_insert INSTEAD OF INSERT ON episode_fts
        WHEN NEW.rowid IS NOT NULL BEGIN
        INSERT OR IGNORE INTO lexical_pending (episode_pk) VALUES (NEW.rowid >> {ITEM_BITS});
    END""",
    f"""CREATE TRIGGER episode_fts_update INSTEAD OF UPDATE ON episode_fts
        WHEN NEW.rowid IS NOT NULL BEGIN
        INSERT OR IGNORE INTO lexical_pending (episode_pk) VALUES (NEW.rowid >> {ITEM_BITS});
    END""",
)


V8 = (
    # Which completed episodes may lack their vectors (a crash between the durable write
    # and the background embedding, an embedder failure, a deleted vector): the catch-up
    # at open reads this small table instead of probing every episode (17.6 s at 1M,
    # while holding the memory's lock). Inserts note and clear it in code (the bulk path
    # writes an episode and its vectors together: a trigger pair there cost 15% of the
    # import); completions, deletes and dropped vectors by triggers, whoever writes them.
    "CREATE TABLE embedding_pending (episode_pk INTEGER PRIMARY KEY)",
    # The model whose missing vectors are all in embedding_pending (one row at most).
    # Storing another model's vectors takes it out (their episodes were not noted for
    # it), and its next catch-up notes its missing episodes again with one full scan.
    """CREATE TABLE embedding_caught_up (
        slot INTEGER PRIMARY KEY CHECK (slot = 0),
        model_id TEXT NOT NULL
    )""",
    """CREATE TRIGGER embedding_pending_completed AFTER UPDATE OF outcome ON episodes
        WHEN NEW.outcome IS NOT NULL AND OLD.outcome IS NULL BEGIN
        INSERT OR IGNORE INTO embedding_pending (episode_pk) VALUES (NEW.pk);
    END""",
    """CREATE TRIGGER embedding_pending_deleted AFTER DELETE ON episodes BEGIN
        DELETE FROM embedding_pending WHERE episode_pk = OLD.pk;
    END""",
    """CREATE TRIGGER embedding_pending_dropped AFTER DELETE ON embeddings
        WHEN OLD.item = 0 BEGIN
        INSERT OR IGNORE INTO embedding_pending (episode_pk) VALUES (OLD.episode_pk);
    END""",
)


def rebuild_lexical_batches(tx: Tx) -> None:
    """(Re)index every episode's texts from the rows that hold them, one row per episode:
    item 0 is the task description, item n is step n's ``search_text()`` (what
    memory-core's in-memory backend indexes)."""
    tx.run("DELETE FROM lexical_batches")
    texts: dict[int, list[tuple[int, str]]] = {}
    for pk, data in tx.all("SELECT episode_pk, data FROM steps ORDER BY episode_pk, step_number"):
        step = ExecutionStep.model_validate_json(data)
        texts.setdefault(int(pk), []).append((step.step_number, step.search_text()))
    tx.many(
        INSERT_BATCH,
        [
            batch_row(
                tenant,
                pk,
                eid,
                [(0, load_episode(data).task_description), *texts.get(pk, [])],
            )
            for pk, tenant, eid, data in tx.all(
                "SELECT pk, tenant, id, data FROM episodes ORDER BY pk"
            )
        ],
    )
    for (tenant,) in tx.all("SELECT DISTINCT tenant FROM episodes"):
        tx.run(
            "INSERT INTO lexical_generations (tenant, generation) VALUES (?, 1) "
            "ON CONFLICT (tenant) DO UPDATE SET generation = generation + 1",
            (tenant,),
        )


_STALE_LEXICAL = (
    "FROM episodes e WHERE "
    "(SELECT count(*) FROM steps s WHERE s.episode_pk = e.pk) + 1 != "
    "coalesce((SELECT sum(n) FROM lexical_batches d WHERE d.episode_pk = e.pk), 0)"
)


def lexical_batches_stale(tx: Tx) -> bool:
    """Whether ``reconcile_lexical_batches`` has anything to do: asked in a read
    transaction at open, so that the write lock is taken only then. O(1): it reads the
    episodes an older release's writes noted (``lexical_pending``, schema 7)."""
    return tx.one("SELECT 1 FROM lexical_pending LIMIT 1") is not None


def reconcile_lexical_batches(tx: Tx) -> int:
    """Index the texts that a release without ``lexical_batches`` (schema 3, during a
    rolling update) wrote: each noted episode whose indexed items differ from its task
    plus steps is re-indexed from its rows. Runs at open; returns how many were."""
    count = _reindex_stale(
        tx, f"{_STALE_LEXICAL} AND e.pk IN (SELECT episode_pk FROM lexical_pending)"
    )
    tx.run("DELETE FROM lexical_pending")
    return count


def _reconcile_all(tx: Tx) -> None:
    """Migration 7's backfill: the whole-store check the open used to make, once."""
    _reindex_stale(tx, _STALE_LEXICAL)


def _reindex_stale(tx: Tx, where: str) -> int:
    stale = tx.all(f"SELECT e.pk, e.tenant, e.id, e.data {where}")
    for pk, tenant, eid, data in stale:
        steps = [
            ExecutionStep.model_validate_json(row[0])
            for row in tx.all(
                "SELECT data FROM steps WHERE episode_pk = ? ORDER BY step_number", (pk,)
            )
        ]
        tx.run("DELETE FROM lexical_batches WHERE episode_pk = ?", (pk,))
        texts = [(0, load_episode(data).task_description)]
        texts += [(s.step_number, s.search_text()) for s in steps]
        tx.run(INSERT_BATCH, batch_row(tenant, int(pk), eid, texts))
        tx.run(
            "INSERT INTO lexical_generations (tenant, generation) VALUES (?, 1) "
            "ON CONFLICT (tenant) DO UPDATE SET generation = generation + 1",
            (tenant,),
        )
    return len(stale)


def _backfill_fts(tx: Tx) -> None:
    """Index what a v1 database already holds."""
    for pk, data in tx.all("SELECT pk, data FROM episodes"):
        text = episode_text(load_episode(data))
        if text:
            tx.run(
                f"INSERT INTO episode_fts (rowid, text) VALUES (? << {ITEM_BITS}, ?)", (pk, text)
            )
    for pk, number, data in tx.all("SELECT episode_pk, step_number, data FROM steps"):
        text = step_text(ExecutionStep.model_validate_json(data))
        if text:
            tx.run(
                f"INSERT INTO episode_fts (rowid, text) VALUES ((? << {ITEM_BITS}) | ?, ?)",
                (pk, number, text),
            )
    for pk, data in tx.all("SELECT pk, data FROM patterns"):
        text = pattern_text(Pattern.model_validate_json(data))
        if text:
            tx.run("INSERT INTO pattern_fts (rowid, text) VALUES (?, ?)", (pk, text))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "episodes, steps, patterns, heuristics, embeddings, usage", V1),
    Migration(2, "FTS5 over task, step, reflection and pattern texts", V2, _backfill_fts),
    Migration(3, "records for features built on the loop (RecordStore)", V3),
    Migration(
        4, "in-process BM25: lexical_batches replace episode_fts", V4, rebuild_lexical_batches
    ),
    Migration(5, "episode_fts dropped (a write-absorbing view for schema-4 peers)", V5),
    # memory_core.text's analyser v2 (Snowball stemmer and stop list): stored terms are
    # re-derived from the episode and step rows, or queries would not match them.
    Migration(6, "lexical_batches re-analysed (Snowball stemmer)", (), rebuild_lexical_batches),
    Migration(7, "lexical_pending: older releases' writes noted for the open", V7, _reconcile_all),
    # No backfill: no model is caught up yet, so the first catch-up scans once.
    Migration(8, "embedding_pending: episodes that may lack vectors", V8),
)
LATEST = MIGRATIONS[-1].version


def current_version(tx: Tx) -> int:
    if tx.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"):
        row = tx.one("SELECT max(version) FROM schema_version")
        return int(row[0]) if row and row[0] is not None else 0
    return 0


def migrate(db: Database, *, upto: int = LATEST) -> int:
    """Bring the database to version ``upto`` (default: latest); returns its version.

    Raises:
        SchemaVersionError: the database is newer than this code.
    """
    version = db.read(current_version)
    _refuse_newer(db, version)
    for migration in MIGRATIONS:
        if migration.version > upto or migration.version <= version:
            continue
        version = db.write(partial(_apply, migration=migration))
    return version


def _apply(tx: Tx, *, migration: Migration) -> int:
    version = current_version(tx)  # re-read under the write lock: another process may have won
    if version >= migration.version:
        return version
    if version != migration.version - 1:
        raise SchemaVersionError(f"cannot apply migration {migration.version} to version {version}")
    for statement in migration.statements:
        tx.run(statement)
    if migration.backfill is not None:
        migration.backfill(tx)
    tx.run(
        "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
        (migration.version, migration.description, datetime.now(UTC).isoformat()),
    )
    return migration.version


def _refuse_newer(db: Database, version: int) -> None:
    if version > LATEST:
        raise SchemaVersionError(
            f"{db.target.display} has schema version {version}, newer than the {LATEST} this "
            "memory-storage-turso understands; upgrade selfmem-storage-turso to open it"
        )
