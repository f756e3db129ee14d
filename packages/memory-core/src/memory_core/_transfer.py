"""The whole memory of a tenant as versioned JSON Lines: what is learned travels with it.

Line 1 is a header ``{"type": "header", "format": "selfmem-memory", "version": 2,
"tenant": ..., "counts": {...}}``; then one object per line, ``type`` first, every field
of the model in model order, compact, UTF-8:

* ``episode``: an ``Episode`` (newest first, as ``export_episodes`` yields);
* ``pattern``: a ``Pattern`` as stored, with its observed (support, successes) and applied
  (applications, application_successes) counts, by id;
* ``heuristic``: a ``Heuristic`` as stored, by id;
* ``record``: ``{"kind", "id", "episode_id", "related_id", "data"}`` for tags,
  relationships, checkpoints with their hand-off packs, recommendation sessions and
  feedback, in insertion order. Security records (tokens, audit, data keys) never leave.

Import validates every line before it writes. Episodes go through ``import_episodes``
(vectors recomputed, patterns re-extracted); then the exported patterns and heuristics
replace what extraction made, exactly as they were (so ranking is the same), and the
records are stored in their order. Into an empty store, export → import → export is byte
for byte the same file. A file without a header (version 1, episodes only) still imports.
Pattern usage history (the rows behind ``analyze_patterns``' trend) is not carried: the
counts are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, ValidationError

from memory_core._errors import InvalidInputError
from memory_core._models import Episode, Heuristic, Pattern, PatternFilter
from memory_core._protocols import RecordStore
from memory_core.bulk_import import ImportReport

if TYPE_CHECKING:
    from memory_core._memory import SelfLearningMemory

FORMAT = "selfmem-memory"
VERSION = 2
RECORD_KINDS = ("tag", "relationship", "checkpoint", "recommendation", "recommendation_feedback")
"""What a memory's records hold besides security data, in export order."""
_PAGE = 500
_ALL = 1 << 31

# Where each record kind keeps the episode ids its row is indexed by (put_record's
# episode_id and related_id), as paths into its data.
_LINKS: dict[str, tuple[tuple[str, ...] | None, tuple[str, ...] | None]] = {
    "tag": (None, None),
    "relationship": (("source_id",), ("target_id",)),
    "checkpoint": (("checkpoint", "episode_id"), None),
    "recommendation": (("episode_id",), None),
    "recommendation_feedback": (("episode_id",), None),
}


def _line(kind: str, fields: dict[str, Any]) -> str:
    return json.dumps({"type": kind, **fields}, ensure_ascii=False, separators=(",", ":")) + "\n"


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _at(data: dict[str, Any], path: tuple[str, ...] | None) -> str | None:
    value: Any = data
    for key in path or ():
        value = value.get(key) if isinstance(value, dict) else None
    return str(value) if path and value is not None else None


def export_lines(memory: SelfLearningMemory, tenant: str | None) -> Iterator[str]:
    """The export, line by line (patterns, heuristics and records are read first, for
    the header's counts; episodes stream)."""
    t = memory._tenant(tenant)
    storage = memory.storage
    with memory._lock:
        patterns = sorted(storage.list_patterns(t, PatternFilter(), _ALL), key=lambda p: str(p.id))
        heuristics = sorted(storage.list_heuristics(t, _ALL, 0.0), key=lambda h: str(h.id))
        episodes = storage.stats(t).episodes
    records: list[dict[str, Any]] = []
    if isinstance(storage, RecordStore):
        for kind in RECORD_KINDS:
            episode_path, related_path = _LINKS[kind]
            after = 0
            while True:
                with memory._lock:
                    page = storage.list_records(t, kind, limit=_PAGE, after_seq=after)
                for seq, record_id, data in page:
                    after = seq
                    records.append(
                        {
                            "kind": kind,
                            "id": record_id,
                            "episode_id": _at(data, episode_path),
                            "related_id": _at(data, related_path),
                            "data": data,
                        }
                    )
                if len(page) < _PAGE:
                    break
    counts = {
        "episodes": episodes,
        "patterns": len(patterns),
        "heuristics": len(heuristics),
        "records": len(records),
    }
    yield _line("header", {"format": FORMAT, "version": VERSION, "tenant": t, "counts": counts})
    for episode in memory.export_episodes(tenant=t):
        yield _line("episode", _dump(episode))
    for pattern in patterns:
        yield _line("pattern", _dump(pattern))
    for heuristic in heuristics:
        yield _line("heuristic", _dump(heuristic))
    for record in records:
        yield _line("record", record)


class _Parsed:
    def __init__(self) -> None:
        self.episodes: list[Episode] = []
        self.patterns: list[Pattern] = []
        self.heuristics: list[Heuristic] = []
        self.records: list[dict[str, Any]] = []


def _model(cls: type[BaseModel], record: dict[str, Any], lineno: int, what: str) -> Any:
    try:
        return cls.model_validate(record)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        raise InvalidInputError(
            f"line {lineno}: invalid {what}: {loc}: {err.get('msg')}",
            field=f"line {lineno}.{loc}",
        ) from None


def parse_lines(lines: Iterable[str]) -> _Parsed:
    """Every line validated before anything is written; errors name the line and field."""
    out = _Parsed()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise InvalidInputError(
                f"line {lineno}: invalid JSON: {exc}", field=f"line {lineno}"
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get("type"), str):
            raise InvalidInputError(
                f'line {lineno}: expected an object with a "type" key', field=f"line {lineno}"
            )
        kind = record.pop("type")
        if kind == "header":
            if lineno != 1 or record.get("format") != FORMAT:
                raise InvalidInputError(
                    f"line {lineno}: a header must be line 1 with format {FORMAT!r}",
                    field=f"line {lineno}.format",
                )
            if not isinstance(record.get("version"), int) or record["version"] > VERSION:
                raise InvalidInputError(
                    f"line 1: format version {record.get('version')!r} is newer than this "
                    f"memory reads ({VERSION}); upgrade selfmem-core",
                    field="line 1.version",
                    limit=VERSION,
                )
        elif kind == "episode":
            out.episodes.append(_model(Episode, record, lineno, "episode"))
        elif kind == "pattern":
            out.patterns.append(_model(Pattern, record, lineno, "pattern"))
        elif kind == "heuristic":
            out.heuristics.append(_model(Heuristic, record, lineno, "heuristic"))
        elif kind == "record":
            if record.get("kind") not in RECORD_KINDS or not isinstance(record.get("id"), str):
                raise InvalidInputError(
                    f"line {lineno}: record kind must be one of {', '.join(RECORD_KINDS)} "
                    "with a string id",
                    field=f"line {lineno}.kind",
                )
            if not isinstance(record.get("data"), dict):
                raise InvalidInputError(
                    f"line {lineno}: record data must be an object", field=f"line {lineno}.data"
                )
            for key in ("episode_id", "related_id"):
                if record.get(key) is not None:
                    try:
                        UUID(str(record[key]))
                    except ValueError:
                        raise InvalidInputError(
                            f"line {lineno}: {key} must be a UUID or null",
                            field=f"line {lineno}.{key}",
                        ) from None
            out.records.append(record)
        # other types: written by a newer release; skipped (forward compatible)
    return out


def import_lines(
    memory: SelfLearningMemory, lines: Iterable[str], as_tenant: str | None
) -> tuple[dict[str, int], ImportReport]:
    """Store an export; see the module docstring. Returns counts and the episode report."""
    parsed = parse_lines(lines)
    episodes = parsed.episodes
    if as_tenant is not None:
        episodes = [e.model_copy(update={"tenant": as_tenant}) for e in episodes]
    report = memory.import_episodes(episodes)
    tenants = {e.tenant for e in episodes} or {memory._tenant(as_tenant)}
    t = memory._tenant(as_tenant if as_tenant is not None else next(iter(tenants)))
    patterns = [p.model_copy(update={"tenant": t}) for p in parsed.patterns]
    heuristics = [h.model_copy(update={"tenant": t}) for h in parsed.heuristics]
    storage = memory.storage
    counts = {"episodes": report.imported, "patterns": 0, "heuristics": 0, "records": 0}
    if not (patterns or heuristics or parsed.records):
        return counts, report
    if not isinstance(storage, RecordStore):
        raise InvalidInputError(
            f"the {storage.name} store keeps no records; patterns, heuristics and records "
            "cannot be imported into it",
            field="storage",
        )
    with memory._lock:
        extracted = storage.list_patterns(t, PatternFilter(), _ALL)
        known = {p.id for p in extracted}
        wanted = {p.id for p in patterns}
        missing = [p for p in patterns if p.id not in known]
        if missing:
            storage.upsert_patterns(t, missing)
        made_heuristics = storage.list_heuristics(t, _ALL, 0.0)
        storage.upsert_heuristics(t, heuristics)
        wanted_heuristics = {h.id for h in heuristics}
        storage.replace_patterns(
            t,
            patterns,
            delete_patterns=[p.id for p in extracted if p.id not in wanted],
            delete_heuristics=[h.id for h in made_heuristics if h.id not in wanted_heuristics],
        )
        for record in parsed.records:
            storage.put_record(
                t,
                record["kind"],
                record["id"],
                record["data"],
                episode_id=UUID(record["episode_id"]) if record.get("episode_id") else None,
                related_id=UUID(record["related_id"]) if record.get("related_id") else None,
            )
    memory._ctx.cache.invalidate_retrievals(t)
    counts.update(patterns=len(patterns), heuristics=len(heuristics), records=len(parsed.records))
    return counts, report
