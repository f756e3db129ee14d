"""Turning spooled hook records into episodes: one episode per task of a session.

A prompt opens the session's episode (task = the prompt, domain = the project), or is
logged as a step when one is already open; every tool call is a step; ``Stop`` (the
end of the agent's turn) or ``SessionEnd`` completes it with an outcome inferred from
what happened: the last test or build command's result when there was one. A turn in
which no tool ran leaves nothing behind. The session → episode map and the ids of the
records already applied are kept in ``sessions.json``, so a recorder restarted after a
crash neither loses an open episode nor applies a record twice.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from memory_core import (
    EpisodeNotFoundError,
    SelfLearningMemory,
    StepResult,
    TaskContext,
    TaskOutcome,
    TaskType,
)

from memory_cli.hooks import _pending, _spool

log = logging.getLogger("memory_cli.hooks")

STATE = "sessions.json"
KEEP_IDS = 5_000
SESSION_TTL_SECONDS = 7 * 24 * 3600

_TYPES = (
    (re.compile(r"(?i)\b(fix|bug|error|fail|failing|broken|crash|debug)"), TaskType.DEBUGGING),
    (re.compile(r"(?i)\b(refactor|rename|clean ?up|simplify)"), TaskType.REFACTORING),
    (re.compile(r"(?i)\b(test|tests|coverage)\b"), TaskType.TESTING),
    (re.compile(r"(?i)\b(doc|docs|readme|document|changelog)"), TaskType.DOCUMENTATION),
    (re.compile(r"(?i)\b(explain|review|analy[sz]e|why|investigate)"), TaskType.ANALYSIS),
    (re.compile(r"(?i)\b(add|implement|create|build|write|make)"), TaskType.CODE_GENERATION),
)


def task_type_of(prompt: str) -> TaskType:
    """A task type from the prompt's first telling verb (used for context matching)."""
    for pattern, task_type in _TYPES:
        if pattern.search(prompt):
            return task_type
    return TaskType.OTHER


def infer_outcome(session: SessionState) -> TaskOutcome:
    """The outcome of a hook-recorded task, always marked as inferred."""
    check = session.last_check
    if check is not None:
        cmd = check["action"][:160]
        if check["ok"]:
            extra = f" ({check['output']})" if check.get("output") else ""
            return TaskOutcome.success(f"inferred: the last check passed: {cmd}{extra}")
        return TaskOutcome.failure(
            f"inferred: the last check failed: {cmd}: {check.get('reason', '')}"[:500],
            verdict="inferred from the last test or build command",
        )
    if session.last_failed:
        return TaskOutcome.partial(
            "inferred: no test or build was run and the last tool call failed",
            failed=[session.last_failed[:200]],
        )
    return TaskOutcome.partial("inferred: no test or build was run")


@dataclass
class SessionState:
    project: str = "unknown"
    agent: str = "claude-code"
    episode: str | None = None
    steps: int = 0
    last_check: dict[str, Any] | None = None
    last_failed: str = ""
    updated: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        """What ``sessions.json`` keeps: ids and counts, never what a step ran (the
        last check and failure are rebuilt from the episode's stored steps at start,
        so nothing a session did is written beside an encrypted database)."""
        out = dict(self.__dict__)
        del out["last_check"], out["last_failed"]
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SessionState:
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Applied:
    """What applying one record did, for the caller that asked for context."""

    kind: str
    session: str
    prompt: str | None = None
    project: str = "unknown"
    episode: UUID | None = None
    at: float = 0.0  # when the hook call spooled it


class HookRecorder:
    """Applies spool records to a memory; the single writer of a hook directory."""

    def __init__(self, memory: SelfLearningMemory, directory: Path) -> None:
        self.memory = memory
        self.directory = directory
        self.sessions: dict[str, SessionState] = {}
        self.done: list[str] = []
        self._done_set: set[str] = set()
        self.applied: dict[str, Applied] = {}
        self.skipped = 0
        self._load()
        self._reconcile()

    # -- state -------------------------------------------------------------------------
    def _load(self) -> None:
        path = self.directory / STATE
        if not path.exists():
            return
        raw = json.loads(path.read_text(encoding="utf-8"))
        self.sessions = {k: SessionState.from_json(v) for k, v in raw.get("sessions", {}).items()}
        self.done = [str(x) for x in raw.get("done", [])][-KEEP_IDS:]
        self._done_set = set(self.done)

    def _reconcile(self) -> None:
        """Catch up with the memory after a crash between a write to it and the save of
        this state: an open episode's steps say how many there are and which records
        they came from, so a record is neither applied twice nor numbered over, and
        which was the last check (test or build) and the last failure."""
        for session in self.sessions.values():
            if session.episode is None:
                continue
            try:
                steps = self.memory.get_episode(session.episode).steps
            except EpisodeNotFoundError:
                session.episode = None
                continue
            session.steps = max((s.step_number for s in steps), default=0)
            ordered = sorted(steps, key=lambda s: s.step_number)
            for step in ordered:
                result = step.result
                ok = result is None or result.ok
                reason = "" if result is None or ok else result.message or ""
                if step.metadata.get("hook_check"):
                    output = (result.output or "") if result is not None and ok else ""
                    session.last_check = {
                        "action": step.action,
                        "ok": ok,
                        "reason": reason,
                        "output": output,
                    }
                session.last_failed = "" if ok else f"{step.tool}: {step.action[:120]}: {reason}"
                event_id = step.metadata.get("hook_event_id")
                if isinstance(event_id, str) and event_id not in self._done_set:
                    self.done.append(event_id)
                    self._done_set.add(event_id)

    def _save(self) -> None:
        now = time.time()
        self.sessions = {
            k: s for k, s in self.sessions.items() if now - s.updated < SESSION_TTL_SECONDS
        }
        raw = {"sessions": {k: s.to_json() for k, s in self.sessions.items()}, "done": self.done}
        tmp = self.directory / (STATE + ".tmp")
        tmp.write_text(json.dumps(raw), encoding="utf-8")
        os.replace(tmp, self.directory / STATE)

    # -- ingestion ---------------------------------------------------------------------
    def ingest(self) -> int:
        """Apply everything spooled so far; returns how many records were applied."""
        count = 0
        for path in _spool.take(str(self.directory)):
            for record in _spool.read(path):
                count += self.ingest_one(record)
            os.unlink(path)
        return count

    def ingest_one(self, record: dict[str, Any] | None) -> bool:
        """Apply one record unless it was applied already (by id): a prompt's record
        comes first inline with its context request, then again from the spool."""
        if record is None or not isinstance(record.get("id"), str):
            self.skipped += 1
            return False
        if record["id"] in self._done_set:
            return False
        applied = True
        try:
            self.apply(record)
        except Exception as exc:  # one bad record must not block the rest
            applied = False
            self.skipped += 1
            log.warning("hook record %s not applied: %s", record.get("id"), exc)
        self.done.append(record["id"])
        self._done_set.add(record["id"])
        if len(self.done) > 2 * KEEP_IDS:
            self.done = self.done[-KEEP_IDS:]
            self._done_set = set(self.done)
        self._save()
        return applied

    def apply(self, record: dict[str, Any]) -> None:
        kind = str(record.get("kind"))
        sid = str(record["session"])
        session = self.sessions.setdefault(sid, SessionState())
        session.project = str(record.get("project") or session.project)
        session.agent = str(record.get("agent") or session.agent)
        session.updated = time.time()
        applied = Applied(kind=kind, session=sid, project=session.project)
        at = record.get("at")
        applied.at = float(at) if isinstance(at, int | float) else time.time()
        if kind == "prompt":
            prompt = str(record["prompt"])
            applied.prompt = prompt
            if session.episode is None:
                self._open(sid, session, prompt)
            else:
                self._step(
                    session,
                    "user",
                    f"prompt: {prompt[:200]}",
                    True,
                    "",
                    "",
                    event_id=str(record["id"]),
                )
        elif kind == "step":
            if session.episode is None:
                self._open(sid, session, f"{session.agent} session in {session.project}")
            self._step(
                session,
                str(record["tool"]),
                str(record.get("action", "")),
                bool(record.get("ok", True)),
                str(record.get("reason", "")),
                str(record.get("output", "")),
                event_id=str(record["id"]),
                check=bool(record.get("check")),
            )
            if record.get("check"):
                session.last_check = {
                    "action": str(record.get("action", "")),
                    "ok": bool(record.get("ok", True)),
                    "reason": str(record.get("reason", "")),
                    "output": str(record.get("output", "")),
                }
        elif kind in ("stop", "end"):
            self._close(session)
            if kind == "end":  # a context left for the next turn is stale: there is none
                _pending.drop(str(self.directory), sid)
                self.sessions.pop(sid, None)
        if session.episode is not None:
            applied.episode = UUID(session.episode)
            if applied.prompt is None and kind == "start":
                applied.prompt = self._task_of(session)
        self.applied[str(record["id"])] = applied
        if len(self.applied) > 100:
            self.applied.pop(next(iter(self.applied)))

    def preview(self, record: dict[str, Any]) -> tuple[str, str]:
        """(the text to recall for, the project) of a context record not yet applied: a
        prompt's text, or for ``SessionStart`` the task of a resumed session's episode."""
        session = self.sessions.get(str(record.get("session")))
        project = str(record.get("project") or (session.project if session else "unknown"))
        if record.get("kind") == "prompt":
            return str(record.get("prompt") or ""), project
        if session is not None and session.episode is not None:
            return self._task_of(session) or "", project
        return "", project

    def _open(self, sid: str, session: SessionState, task: str) -> None:
        eid = self.memory.start_episode(
            task,
            TaskContext(domain=session.project, tags=[f"agent:{session.agent}"]),
            task_type_of(task),
            metadata={"source": session.agent, "session_id": sid, "outcome_inferred": True},
        )
        session.episode, session.steps = str(eid), 0
        session.last_check, session.last_failed = None, ""

    def _step(
        self,
        session: SessionState,
        tool: str,
        action: str,
        ok: bool,
        reason: str,
        output: str,
        *,
        event_id: str | None = None,
        check: bool = False,
    ) -> None:
        assert session.episode is not None
        result = StepResult.success(output or None) if ok else StepResult.error(reason or "failed")
        # No step_number: the memory numbers it (one past the highest stored, in the
        # insert's transaction), as record_episode and add_episode_step do, so a step
        # applied before a crash is never numbered over.
        step = {
            "tool": tool,
            "action": action,
            "result": result,
            "metadata": {
                **({"hook_event_id": event_id} if event_id else {}),
                **({"hook_check": True} if check else {}),  # what _reconcile reads back
            },
        }
        session.steps = self.memory.log_step(session.episode, step)
        session.last_failed = "" if ok else f"{tool}: {action[:120]}: {reason}"

    def _close(self, session: SessionState) -> None:
        if session.episode is None:
            return
        eid, session.episode = session.episode, None
        outcome = infer_outcome(session) if session.steps else None
        # what the closed task ran is in the memory now; not kept beside it in clear text
        session.last_check, session.last_failed = None, ""
        try:
            if outcome is None:
                self.memory.delete_episode(eid)  # a turn without tool calls is not a task
            else:
                self.memory.complete_episode(eid, outcome)
        except EpisodeNotFoundError:
            log.info("episode %s was deleted before its session ended", eid)

    def _task_of(self, session: SessionState) -> str | None:
        if session.episode is None:
            return None
        try:
            return self.memory.get_summary(session.episode).task_description
        except EpisodeNotFoundError:
            return None
