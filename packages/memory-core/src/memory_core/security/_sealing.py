"""``EpisodeSealer``: the text of an episode sealed field by field with its data key.

What is sealed: task description, step action + parameters + output + message + step
metadata, outcome verdict + reason + artifacts + sub-goals, and the reflection. Each
sealed field is ``menc1:<base64(nonce | ciphertext | tag)>``, bound to (tenant, episode,
field) by its associated data, so a sealed value copied elsewhere does not open. Which
episodes are sealed, and where their keys live, is ``EncryptedStorage``'s business.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from memory_core._models import (
    Episode,
    EpisodeSummary,
    ExecutionStep,
    Reflection,
    StepResult,
    TaskOutcome,
)
from memory_core.security._crypto import FIELD_PREFIX, b64d, b64e, open_sealed, seal
from memory_core.security._errors import DecryptionError

__all__ = ["EpisodeSealer", "is_sealed"]


#: Episode metadata keys that hold agent-written text (``memory_core._updates``).
SEALED_METADATA = ("notes", "lessons")


class EpisodeSealer:
    """Seals and opens episodes, steps and summaries.

    Args:
        data_key: the episode's data key, or ``None`` for an episode stored in clear.
    """

    def __init__(self, data_key: Callable[[str, UUID], bytes | None]) -> None:
        self._data_key = data_key

    def seal(self, key: bytes, tenant: str, eid: UUID, part: str, value: Any) -> str:
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return FIELD_PREFIX + b64e(seal(key, data, _field_aad(tenant, eid, part)))

    def open(self, key: bytes, tenant: str, eid: UUID, part: str, text: str) -> Any:
        if not text.startswith(FIELD_PREFIX):
            raise DecryptionError(f"episode {eid}: field {part} is not sealed")
        blob = b64d(text[len(FIELD_PREFIX) :])
        return json.loads(open_sealed(key, blob, _field_aad(tenant, eid, part)))

    def seal_step(self, key: bytes, tenant: str, eid: UUID, s: ExecutionStep) -> ExecutionStep:
        r = s.result
        payload = {
            "action": s.action,
            "parameters": s.parameters,
            "output": r.output if r else None,
            "message": r.message if r else None,
            "metadata": s.metadata,
        }
        return s.model_copy(
            update={
                "action": self.seal(key, tenant, eid, f"step:{s.step_number}", payload),
                "parameters": {},
                "metadata": {},
                "result": StepResult(status=r.status) if r else None,
            }
        )

    def open_step(self, key: bytes, tenant: str, eid: UUID, s: ExecutionStep) -> ExecutionStep:
        if not s.action.startswith(FIELD_PREFIX):
            return s
        p = self.open(key, tenant, eid, f"step:{s.step_number}", s.action)
        result = None
        if s.result is not None:
            result = StepResult(status=s.result.status, output=p["output"], message=p["message"])
        return s.model_copy(
            update={
                "action": p["action"],
                "parameters": p["parameters"],
                "metadata": p["metadata"],
                "result": result,
            }
        )

    def seal_episode(self, key: bytes, ep: Episode) -> Episode:
        t, e = ep.tenant, ep.id
        update: dict[str, Any] = {
            "task_description": self.seal(key, t, e, "task", ep.task_description),
            "steps": [self.seal_step(key, t, e, s) for s in ep.steps],
        }
        if ep.outcome is not None:
            body = ep.outcome.model_dump(mode="json", exclude={"type"})
            update["outcome"] = TaskOutcome(
                type=ep.outcome.type, verdict=self.seal(key, t, e, "outcome", body)
            )
        if ep.reflection is not None:
            body = ep.reflection.model_dump(mode="json")
            update["reflection"] = Reflection(insights=[self.seal(key, t, e, "reflection", body)])
        texts = {k: ep.metadata[k] for k in SEALED_METADATA if k in ep.metadata}
        if texts:
            update["metadata"] = {
                **ep.metadata,
                **{k: self.seal(key, t, e, f"metadata:{k}", v) for k, v in texts.items()},
            }
        return ep.model_copy(update=update)

    def open_episode(self, ep: Episode | None) -> Episode | None:
        if ep is None or not is_sealed(ep.task_description):
            return ep
        key = self._data_key(ep.tenant, ep.id)
        if key is None:
            return ep  # clear text that happens to look sealed
        t, e = ep.tenant, ep.id
        update: dict[str, Any] = {
            "task_description": self.open(key, t, e, "task", ep.task_description),
            "steps": [self.open_step(key, t, e, s) for s in ep.steps],
        }
        if ep.outcome is not None and is_sealed(ep.outcome.verdict):
            body = self.open(key, t, e, "outcome", ep.outcome.verdict)
            update["outcome"] = TaskOutcome(type=ep.outcome.type, **body)
        if (
            ep.reflection is not None
            and ep.reflection.insights
            and is_sealed(ep.reflection.insights[0])
        ):
            update["reflection"] = Reflection(
                **self.open(key, t, e, "reflection", ep.reflection.insights[0])
            )
        sealed = {
            k: v
            for k in SEALED_METADATA
            if isinstance(v := ep.metadata.get(k), str) and is_sealed(v)
        }
        if sealed:
            update["metadata"] = {
                **ep.metadata,
                **{k: self.open(key, t, e, f"metadata:{k}", v) for k, v in sealed.items()},
            }
        return ep.model_copy(update=update)

    def open_summary(self, s: EpisodeSummary) -> EpisodeSummary:
        if not is_sealed(s.task_description):
            return s
        key = self._data_key(s.tenant, s.id)
        if key is None:
            return s
        update: dict[str, Any] = {
            "task_description": self.open(key, s.tenant, s.id, "task", s.task_description)
        }
        if s.verdict is not None and is_sealed(s.verdict):
            update["verdict"] = self.open(key, s.tenant, s.id, "outcome", s.verdict)["verdict"]
        return s.model_copy(update=update)


def is_sealed(text: str | None) -> bool:
    return bool(text) and text.startswith(FIELD_PREFIX)  # type: ignore[union-attr]


def _field_aad(tenant: str, episode_id: UUID, part: str) -> bytes:
    return f"memory-core/field/v1|{tenant}|{episode_id}|{part}".encode()
