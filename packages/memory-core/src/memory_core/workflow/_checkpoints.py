"""Checkpoints and hand-off: let a long task survive a context reset.

``checkpoint_episode`` stores a ``checkpoint`` record naming the episode, holding a
compact ``HandoffPack`` built at that moment (what was done and failed, open questions,
relevant patterns and past episodes). ``resume_from_handoff`` continues the episode if
it is still in progress, numbering on from the highest stored step, so nothing logged
before or after the checkpoint is lost or repeated; if the episode was completed it
starts a new episode that ``follows`` it. It accepts only a pack stored here (a hand-made
one is refused), so a deleted episode's pack, whose checkpoint went with it, is refused.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any
from uuid import UUID

from memory_core._errors import EpisodeNotFoundError, EpisodeStateError, InvalidInputError
from memory_core._models import Episode, EpisodeStatus, ExecutionStep, utcnow
from memory_core._validation import check_text, coerce
from memory_core.workflow._common import as_uuid, clip, records, scan
from memory_core.workflow._errors import CheckpointNotFoundError
from memory_core.workflow._models import (
    Checkpoint,
    HandoffPack,
    HandoffPattern,
    HandoffStep,
    PastEpisode,
    RelationshipType,
    ResumeResult,
)

if TYPE_CHECKING:
    from memory_core.workflow._context import WorkflowContext
    from memory_core.workflow._relationships import Relationships

CHECKPOINT_KIND = "checkpoint"
RECENT_STEPS = 12
MAX_FAILED = 10
TEXT_CHARS = 160
_MAX_ID = 64


class Checkpoints:
    """Checkpoints and hand-off packs (``SelfLearningMemory`` delegates)."""

    def __init__(self, c: WorkflowContext, relationships: Relationships) -> None:
        self._c = c
        self._relationships = relationships  # a resumed episode ``follows`` the old one

    def checkpoint_episode(
        self, episode_id: UUID | str, reason: str, note: str, tenant: str | None
    ) -> Checkpoint:
        with self._c.metrics.timed("checkpoint_episode"):
            eid = as_uuid(episode_id, "episode_id")
            check_text(reason, "reason", self._c.limits.max_short_text_chars)
            check_text(note, "note", self._c.limits.max_action_chars)
            t = self._c.tenant(tenant)
            store = records(self._c.storage)
            with self._c.lock:
                episode = self._c.storage.get_episode(t, eid)
            if episode is None:
                raise EpisodeNotFoundError(eid)
            if episode.is_complete:
                raise EpisodeStateError(f"episode {eid} is completed; nothing to hand off")
            pack = _pack(self._c, t, episode, str(uuid.uuid4()), reason, note)
            cp = Checkpoint(
                id=pack.checkpoint_id,
                episode_id=eid,
                reason=reason,
                note=note,
                step_count=pack.step_count,
                last_step_number=pack.last_step_number,
                created_at=pack.created_at,
            )
            data = {"checkpoint": cp.model_dump(mode="json"), "pack": pack.model_dump(mode="json")}
            with self._c.lock:
                store.put_record(t, CHECKPOINT_KIND, cp.id, data, episode_id=eid)
            return cp

    def list_checkpoints(self, episode_id: UUID | str, tenant: str | None) -> list[Checkpoint]:
        eid = as_uuid(episode_id, "episode_id")
        t = self._c.tenant(tenant)
        with self._c.lock:
            rows = list(scan(records(self._c.storage), t, CHECKPOINT_KIND, episode_id=eid))
        return [Checkpoint.model_validate(d["checkpoint"]) for _, _, d in rows]

    def get_handoff_pack(self, checkpoint_id: str, tenant: str | None) -> HandoffPack:
        cid = _checkpoint_id(checkpoint_id)
        t = self._c.tenant(tenant)
        with self._c.lock:
            data = records(self._c.storage).get_record(t, CHECKPOINT_KIND, cid)
        if data is None:
            raise CheckpointNotFoundError(cid)
        return HandoffPack.model_validate(data["pack"])

    def resume_from_handoff(
        self, pack: HandoffPack | dict[str, Any] | str, tenant: str | None
    ) -> ResumeResult:
        with self._c.metrics.timed("resume_from_handoff"):
            p = coerce(HandoffPack, pack, "pack")
            t = self._c.tenant(tenant)
            store = records(self._c.storage)
            with self._c.lock:
                data = store.get_record(t, CHECKPOINT_KIND, _checkpoint_id(p.checkpoint_id))
                _check_stored(p, data)
                assert data is not None
                episode = self._c.storage.get_episode(t, p.episode_id)
                if episode is not None and not episode.is_complete:
                    data["checkpoint"]["resumed"] = int(data["checkpoint"]["resumed"]) + 1
                    store.put_record(
                        t, CHECKPOINT_KIND, p.checkpoint_id, data, episode_id=p.episode_id
                    )
                    last = max((s.step_number for s in episode.steps), default=0)
                    return ResumeResult(
                        episode_id=p.episode_id,
                        next_step_number=last + 1,
                        continued=True,
                        steps_since_checkpoint=[
                            _digest(s) for s in episode.steps if s.step_number > p.last_step_number
                        ],
                    )
                new_id = self._c.episodes.start_episode(
                    p.goal,
                    p.context,
                    p.task_type,
                    {"resumed_from": str(p.episode_id), "checkpoint_id": p.checkpoint_id},
                    t,
                )
                if episode is not None:
                    self._relationships.add_relationship(
                        new_id,
                        p.episode_id,
                        RelationshipType.FOLLOWS,
                        f"resumed from checkpoint {p.checkpoint_id}",
                        5,
                        t,
                    )
            return ResumeResult(
                episode_id=new_id,
                next_step_number=1,
                continued=False,
                previous_episode_id=p.episode_id,
            )


def _check_stored(pack: HandoffPack, data: dict[str, Any] | None) -> None:
    """Refuse a pack that is not the one stored with its checkpoint in this tenant."""
    if data is None:
        raise InvalidInputError(
            f"pack.checkpoint_id {pack.checkpoint_id!r} names no stored checkpoint of this "
            "tenant (never made here, or deleted with its episode); resume from a "
            "checkpoint_episode result",
            field="pack.checkpoint_id",
        )
    stored = HandoffPack.model_validate(data["pack"])
    if stored != pack:
        changed = next(
            (
                name
                for name in HandoffPack.model_fields
                if getattr(stored, name) != getattr(pack, name)
            ),
            "",
        )
        raise InvalidInputError(
            f"pack.{changed} differs from the pack stored with checkpoint "
            f"{pack.checkpoint_id}; pass the checkpoint id, or the pack exactly as "
            "get_handoff_pack returned it",
            field=f"pack.{changed}",
        )


def _checkpoint_id(value: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        raise InvalidInputError(
            f"checkpoint_id must be 1-{_MAX_ID} characters", field="checkpoint_id", limit=_MAX_ID
        )
    return value


def _digest(step: ExecutionStep) -> HandoffStep:
    return HandoffStep(
        step_number=step.step_number,
        tool=step.tool,
        action=clip(step.action, TEXT_CHARS),
        ok=step.ok,
        result=clip(step.result.text(), TEXT_CHARS) if step.result is not None else "",
    )


def _open_questions(episode: Episode, note: str) -> list[str]:
    """Failures not followed by a success of the same tool, and the note's questions."""
    out: list[str] = []
    steps = episode.steps
    for i, step in enumerate(steps):
        if step.ok:
            continue
        if any(later.ok and later.tool == step.tool for later in steps[i + 1 :]):
            continue
        why = clip(step.result.text(), TEXT_CHARS) if step.result is not None else "failed"
        out.append(f"Step {step.step_number} ({step.tool}) failed and is not resolved: {why}")
    for sentence in note.replace("\n", " ").split("?")[:-1]:
        question = sentence.split(". ")[-1].strip()
        if question:
            out.append(clip(question, TEXT_CHARS * 2) + "?")
    if not steps:
        out.append("No step has been logged yet: where to start?")
    return out[:MAX_FAILED]


def _summary_line(steps: list[ExecutionStep]) -> str:
    if not steps:
        return "no steps yet"
    tools = Counter(s.tool for s in steps)
    failed = sum(1 for s in steps if not s.ok)
    used = ", ".join(f"{tool} ×{n}" for tool, n in tools.most_common(8))
    plural = "s" if len(steps) != 1 else ""
    return f"{len(steps)} step{plural} ({failed} failed): {used}"


def _pack(
    memory: WorkflowContext,
    tenant: str,
    episode: Episode,
    checkpoint_id: str,
    reason: str,
    note: str,
) -> HandoffPack:
    goal, ctx = episode.task_description, episode.context
    patterns = memory.retriever.retrieve_relevant_patterns(goal, ctx, 5, tenant, None)
    past = memory.retriever.retrieve_relevant_context(
        goal, ctx, 3, tenant, 0, {"status": EpisodeStatus.COMPLETED}
    )
    steps = episode.steps
    return HandoffPack(
        checkpoint_id=checkpoint_id,
        episode_id=episode.id,
        goal=goal,
        task_type=episode.task_type,
        context=ctx,
        reason=reason,
        note=note,
        step_count=len(steps),
        last_step_number=max((s.step_number for s in steps), default=0),
        done=[_digest(s) for s in steps[-RECENT_STEPS:]],
        done_summary=_summary_line(steps),
        failed=[_digest(s) for s in steps if not s.ok][-MAX_FAILED:],
        open_questions=_open_questions(episode, note),
        patterns=[
            HandoffPattern(
                id=r.pattern.id,
                kind=r.pattern.kind,
                description=clip(r.pattern.description, 240),
                success_rate=round(r.pattern.success_rate, 4),
                confidence=round(r.pattern.confidence, 4),
            )
            for r in patterns
        ],
        past_episodes=[
            PastEpisode(
                id=r.episode.id,
                task_description=clip(r.episode.task_description, 240),
                outcome=r.episode.outcome,
                verdict=clip(r.episode.verdict or "", 240) or None,
                score=round(r.score, 4),
            )
            for r in past
        ],
        created_at=utcnow(),
    )
