"""Tags after creation: add, remove, set, list; search by tags (any/all); statistics.

Tags live in the episode's ``context.tags`` (written with ``RecordStore.update_episode_tags``),
so they take part in retrieval filters (``EpisodeFilter.tags``) and the context-match score
with no extra index. Each tag write also stores a small ``tag`` record per added tag with
the time it was last applied; counts are always computed from the episodes themselves,
so tags given at ``start_episode`` and episodes deleted since are counted right.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from memory_core._errors import EpisodeNotFoundError, InvalidInputError
from memory_core._models import EpisodeFilter, EpisodePage, EpisodeSummary, utcnow
from memory_core._validation import check_limit, coerce
from memory_core.workflow._common import as_uuid, records, scan
from memory_core.workflow._models import TagMatch, TagStat

if TYPE_CHECKING:
    from memory_core.workflow._context import WorkflowContext

TAG_KIND = "tag"
_BAD_TAG = re.compile(r"[,\x00-\x1f\x7f]")
_SCAN_PAGE = 1_000


class Tags:
    """Tags after creation, tag search and statistics (``SelfLearningMemory`` delegates)."""

    def __init__(self, c: WorkflowContext) -> None:
        self._c = c

    def list_tags(self, episode_id: UUID | str, tenant: str | None) -> list[str]:
        eid = as_uuid(episode_id, "episode_id")
        t = self._c.tenant(tenant)
        with self._c.lock:
            return list(_summary(self._c, t, eid).context.tags)

    def add_tags(
        self, episode_id: UUID | str, tags: Sequence[str], tenant: str | None
    ) -> list[str]:
        new = _clean_tags(self._c, tags)
        return _write(self._c, episode_id, tenant, "add_tags", lambda old: [*old, *new])

    def remove_tags(
        self, episode_id: UUID | str, tags: Sequence[str], tenant: str | None
    ) -> list[str]:
        gone = set(_clean_tags(self._c, tags))
        return _write(
            self._c,
            episode_id,
            tenant,
            "remove_tags",
            lambda old: [x for x in old if x not in gone],
        )

    def set_tags(
        self, episode_id: UUID | str, tags: Sequence[str], tenant: str | None
    ) -> list[str]:
        new = _clean_tags(self._c, tags)
        return _write(self._c, episode_id, tenant, "set_tags", lambda _old: new)

    def search_episodes_by_tags(
        self,
        tags: Sequence[str],
        match: TagMatch,
        limit: int,
        cursor: str | None,
        filters: EpisodeFilter | dict[str, Any] | None,
        tenant: str | None,
    ) -> EpisodePage:
        with self._c.metrics.timed("search_episodes_by_tags"):
            wanted = _clean_tags(self._c, tags)
            if not wanted:
                raise InvalidInputError("tags must name at least one tag", field="tags")
            if match not in ("any", "all"):
                raise InvalidInputError(
                    f"match must be 'any' or 'all'; got {match!r}", field="match"
                )
            check_limit(limit, self._c.limits)
            base = coerce(EpisodeFilter, filters or {}, "filters")
            t = self._c.tenant(tenant)
            if match == "all" or len(wanted) == 1:
                f = base.model_copy(update={"tags": list(dict.fromkeys([*base.tags, *wanted]))})
                with self._c.lock:
                    return self._c.storage.list_episodes(t, f, limit, cursor)
            return _search_any(self._c, t, base, wanted, limit, cursor)

    def tag_statistics(self, limit: int, tenant: str | None) -> list[TagStat]:
        with self._c.metrics.timed("tag_statistics"):
            check_limit(limit, self._c.limits)
            t = self._c.tenant(tenant)
            store = records(self._c.storage)
            counts: dict[str, int] = {}
            last: dict[str, datetime] = {}
            cursor: str | None = None
            while True:
                with self._c.lock:
                    page = self._c.storage.list_episodes(t, EpisodeFilter(), _SCAN_PAGE, cursor)
                for s in page.items:
                    for tag in dict.fromkeys(s.context.tags):
                        counts[tag] = counts.get(tag, 0) + 1
                        if tag not in last or s.started_at > last[tag]:
                            last[tag] = s.started_at
                if not page.next_cursor:
                    break
                cursor = page.next_cursor
            with self._c.lock:
                for _, tag, data in scan(store, t, TAG_KIND):
                    used = datetime.fromisoformat(data["last_used"])
                    if tag not in last or used > last[tag]:
                        last[tag] = used
            stats = [TagStat(tag=k, count=counts.get(k, 0), last_used=v) for k, v in last.items()]
            stats.sort(key=lambda s: (-s.count, -(s.last_used or utcnow()).timestamp(), s.tag))
            return stats[:limit]


def _summary(memory: WorkflowContext, tenant: str, eid: UUID) -> EpisodeSummary:
    found = memory.storage.get_summaries(tenant, [eid])
    if not found:
        raise EpisodeNotFoundError(eid)
    return found[0]


def _clean_tags(memory: WorkflowContext, tags: Sequence[str]) -> list[str]:
    """Stripped, non-empty, unique tags within the limits; a bare string is one tag."""
    limits = memory.limits
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, Sequence):
        raise InvalidInputError("tags must be a list of strings", field="tags")
    if len(tags) > limits.max_tags:
        raise InvalidInputError(
            f"tags has {len(tags)} items; the limit is {limits.max_tags}",
            field="tags",
            limit=limits.max_tags,
        )
    out: list[str] = []
    for i, raw in enumerate(tags):
        field = f"tags[{i}]"
        if not isinstance(raw, str):
            raise InvalidInputError(f"{field} must be a string", field=field)
        tag = raw.strip()
        if not tag:
            raise InvalidInputError(f"{field} must not be empty", field=field)
        if len(tag) > limits.max_short_text_chars:
            raise InvalidInputError(
                f"{field} is {len(tag)} characters; the limit is {limits.max_short_text_chars}",
                field=field,
                limit=limits.max_short_text_chars,
            )
        if _BAD_TAG.search(tag):
            raise InvalidInputError(
                f"{field} must not contain commas or control characters", field=field
            )
        if tag not in out:
            out.append(tag)
    return out


def _write(
    memory: WorkflowContext,
    episode_id: UUID | str,
    tenant: str | None,
    op: str,
    change: Any,
) -> list[str]:
    with memory.metrics.timed(op):
        eid = as_uuid(episode_id, "episode_id")
        t = memory.tenant(tenant)
        store = records(memory.storage)
        with memory.lock:
            old = list(_summary(memory, t, eid).context.tags)
            new = list(dict.fromkeys(change(old)))
            if len(new) > memory.limits.max_tags:
                raise InvalidInputError(
                    f"the episode would have {len(new)} tags; the limit is "
                    f"{memory.limits.max_tags}",
                    field="tags",
                    limit=memory.limits.max_tags,
                )
            if new == old:
                return new
            stored = store.update_episode_tags(t, eid, new)
            now = utcnow().isoformat()
            for tag in new:
                if tag not in old:
                    store.put_record(t, TAG_KIND, tag, {"tag": tag, "last_used": now})
            # Must not be swallowed: a stale cached episode would show the old tags.
            memory.cache.invalidate_episode(t, eid)
            return list(stored.context.tags)


def _search_any(
    memory: WorkflowContext,
    tenant: str,
    base: EpisodeFilter,
    tags: list[str],
    limit: int,
    cursor: str | None,
) -> EpisodePage:
    """Union of per-tag queries in storage order (started_at desc, id desc).

    The cursor is the (started_at, id) of the last item returned: each tag's query
    resumes just below it, so pages neither repeat nor skip an episode.
    """
    key = _decode(cursor) if cursor is not None else None
    until = base.until
    if key is not None:
        bound = key[0] + timedelta(microseconds=1)
        until = bound if until is None else min(until, bound)
    merged: dict[UUID, EpisodeSummary] = {}
    for tag in tags:
        f = base.model_copy(update={"tags": [*base.tags, tag], "until": until})
        taken, page_cursor = 0, None
        while taken <= limit:
            with memory.lock:
                page = memory.storage.list_episodes(tenant, f, limit + 1, page_cursor)
            for s in page.items:
                if key is None or (s.started_at, s.id) < key:
                    merged.setdefault(s.id, s)
                    taken += 1
            if not page.next_cursor:
                break
            page_cursor = page.next_cursor
    ordered = sorted(merged.values(), key=lambda s: (s.started_at, s.id), reverse=True)
    items = ordered[:limit]
    next_cursor = _encode(items[-1]) if len(ordered) > limit else None
    return EpisodePage(items=items, next_cursor=next_cursor)


def _encode(s: EpisodeSummary) -> str:
    raw = json.dumps({"s": s.started_at.isoformat(), "i": str(s.id)}).encode()
    return "any:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, UUID]:
    try:
        if not cursor.startswith("any:"):
            raise ValueError("not a tag-search cursor")
        body = cursor[4:]
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        started = datetime.fromisoformat(data["s"])
        if started.tzinfo is None:
            raise ValueError("naive time")
        return started, UUID(data["i"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInputError(
            "cursor is not one returned by search_episodes_by_tags(match='any')", field="cursor"
        ) from None
