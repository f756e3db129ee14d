"""Limit checks at the API boundary: every violation names the field and the limit.

Checked before anything is written, so a rejected call leaves no partial state.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from memory_core._errors import InvalidInputError
from memory_core._limits import Limits
from memory_core._models import ExecutionStep, TaskContext, TaskOutcome

M = TypeVar("M", bound=BaseModel)


def coerce(model: type[M], value: Any, field: str) -> M:
    """Turn a model, dict or JSON string into ``model``; errors name the field."""
    if isinstance(value, model):
        return value
    try:
        if isinstance(value, str | bytes):
            return model.model_validate_json(value)
        return model.model_validate(value)
    except ValidationError as exc:
        raise invalid_from_validation(exc, field) from exc


def invalid_from_validation(exc: ValidationError, prefix: str = "") -> InvalidInputError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    field = ".".join(p for p in (prefix, loc) if p) or None
    return InvalidInputError(f"{field or 'input'}: {first.get('msg')}", field=field)


def check_text(value: str | None, field: str, limit: int, *, required: bool = False) -> None:
    if value is None:
        if required:
            raise InvalidInputError(f"{field} is required", field=field)
        return
    if required and not value.strip():
        raise InvalidInputError(f"{field} must not be empty", field=field)
    if len(value) > limit:
        raise InvalidInputError(
            f"{field} is {len(value)} characters; the limit is {limit}", field=field, limit=limit
        )


def _depth(value: Any, limit: int, field: str, level: int = 1) -> None:
    if level > limit:
        raise InvalidInputError(
            f"{field} nests deeper than {limit} levels", field=field, limit=limit
        )
    if isinstance(value, dict):
        for item in value.values():
            _depth(item, limit, field, level + 1)
    elif isinstance(value, list):
        for item in value:
            _depth(item, limit, field, level + 1)


def check_json(value: dict[str, Any], field: str, max_bytes: int, max_depth: int) -> None:
    _depth(value, max_depth, field)
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode())
    if size > max_bytes:
        raise InvalidInputError(
            f"{field} is {size} bytes as JSON; the limit is {max_bytes}",
            field=field,
            limit=max_bytes,
        )


def check_list(values: Sequence[str], field: str, max_items: int, item_limit: int) -> None:
    if len(values) > max_items:
        raise InvalidInputError(
            f"{field} has {len(values)} items; the limit is {max_items}",
            field=field,
            limit=max_items,
        )
    for i, v in enumerate(values):
        check_text(v, f"{field}[{i}]", item_limit)


def check_context(ctx: TaskContext, limits: Limits, field: str = "context") -> None:
    for name in ("domain", "language", "framework"):
        check_text(getattr(ctx, name), f"{field}.{name}", limits.max_short_text_chars)
    check_list(ctx.tags, f"{field}.tags", limits.max_tags, limits.max_short_text_chars)


def check_step(step: ExecutionStep, limits: Limits, field: str = "step") -> None:
    check_text(step.tool, f"{field}.tool", limits.max_short_text_chars, required=True)
    check_text(step.action, f"{field}.action", limits.max_action_chars)
    check_json(
        step.parameters, f"{field}.parameters", limits.max_parameters_bytes, limits.max_json_depth
    )
    check_json(step.metadata, f"{field}.metadata", limits.max_metadata_bytes, limits.max_json_depth)
    if step.result is not None:
        check_text(step.result.output, f"{field}.result.output", limits.max_text_chars)
        check_text(step.result.message, f"{field}.result.message", limits.max_text_chars)


def check_steps(steps: Sequence[ExecutionStep], limits: Limits, existing: int) -> None:
    if len(steps) > limits.max_steps_per_call:
        raise InvalidInputError(
            f"steps has {len(steps)} items; the limit per call is {limits.max_steps_per_call}",
            field="steps",
            limit=limits.max_steps_per_call,
        )
    if existing + len(steps) > limits.max_steps_per_episode:
        raise InvalidInputError(
            f"the episode would have {existing + len(steps)} steps; the limit is "
            f"{limits.max_steps_per_episode}",
            field="steps",
            limit=limits.max_steps_per_episode,
        )
    seen: set[int] = set()
    for i, step in enumerate(steps):
        if step.step_number in seen:
            raise InvalidInputError(
                f"steps[{i}].step_number {step.step_number} appears twice in the batch",
                field=f"steps[{i}].step_number",
            )
        seen.add(step.step_number)
        check_step(step, limits, f"steps[{i}]")


def parse_steps(
    steps: Sequence[ExecutionStep | dict[str, Any]], field: str = "steps"
) -> tuple[list[ExecutionStep], list[int]]:
    """Validate steps given as models or dicts; a dict may leave out ``step_number``.

    Returns the steps (a left-out number is a placeholder 1) and the indexes of those
    that need one: ``number_steps`` assigns them once the next free number is known, so
    every field is checked before any storage read or write."""
    parsed: list[ExecutionStep] = []
    unnumbered: list[int] = []
    for i, raw in enumerate(steps):
        if isinstance(raw, dict) and raw.get("step_number") is None:
            raw = {**raw, "step_number": 1}
            unnumbered.append(i)
        parsed.append(coerce(ExecutionStep, raw, f"{field}[{i}]"))
    return parsed, unnumbered


def number_steps(
    steps: Sequence[ExecutionStep], unnumbered: Sequence[int], next_number: int
) -> list[ExecutionStep]:
    """Give each step of ``unnumbered`` the next number: one after ``next_number - 1``
    and after every number before it in the list (explicit numbers are kept)."""
    todo = set(unnumbered)
    out: list[ExecutionStep] = []
    for i, step in enumerate(steps):
        if i in todo:
            step = step.model_copy(update={"step_number": next_number})
        next_number = max(next_number, step.step_number) + 1
        out.append(step)
    return out


def check_outcome(outcome: TaskOutcome, limits: Limits) -> None:
    check_text(outcome.verdict, "outcome.verdict", limits.max_text_chars)
    check_text(outcome.reason, "outcome.reason", limits.max_text_chars)
    check_list(outcome.artifacts, "outcome.artifacts", limits.max_artifacts, limits.max_text_chars)
    check_list(outcome.completed, "outcome.completed", limits.max_artifacts, limits.max_text_chars)
    check_list(outcome.failed, "outcome.failed", limits.max_artifacts, limits.max_text_chars)


def check_limit(value: int, limits: Limits, field: str = "limit") -> int:
    if value < 1 or value > limits.max_limit:
        raise InvalidInputError(
            f"{field} must be between 1 and {limits.max_limit}; got {value}",
            field=field,
            limit=limits.max_limit,
        )
    return value
