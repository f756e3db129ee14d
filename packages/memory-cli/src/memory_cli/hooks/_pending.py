"""Context that missed its prompt's budget, waiting for the session's next tool call.

A prompt's hook call waits for its recall only ``MEMORY_HOOK_WAIT_MS``. When the
recorder answers later (a busy machine), or was still starting when the prompt came
(the first prompt after ``SessionStart`` started it), the recorder writes the context
here, one file per session; the session's next ``PostToolUse`` or
``PostToolUseFailure`` hook call takes it (an atomic rename, so exactly one call does)
and hands it to the agent as that event's ``additionalContext``, before the agent's
next step. A newer prompt or the end of the turn makes it stale: those calls delete it.

Standard library only, and no pathlib or typing: this runs in every hook call.
"""

from __future__ import annotations

import os

PREFIX = "context."
MAX_SESSION_BYTES = 100


def path_for(directory: str, session: str) -> str | None:
    """The file of ``session``'s pending context (``None`` for an overlong session id)."""
    raw = session.encode("utf-8", "replace")
    if len(raw) > MAX_SESSION_BYTES:
        return None
    return os.path.join(directory, PREFIX + raw.hex())


def write(directory: str, session: str, context: str) -> bool:
    """Leave ``context`` for the session's next tool call; False if it cannot be kept."""
    path = path_for(directory, session)
    if path is None or not context:
        return False
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, context.encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return True


def take(directory: str, session: str) -> str | None:
    """The session's pending context, removed: only one caller ever gets it."""
    path = path_for(directory, session)
    if path is None:
        return None
    mine = f"{path}.{os.getpid()}.taken"
    try:
        os.rename(path, mine)
    except OSError:  # none pending (the common case: one failed rename, a few µs)
        return None
    try:
        with open(mine, "rb") as f:
            return f.read().decode("utf-8", "replace")
    finally:
        os.unlink(mine)


def drop(directory: str, session: str) -> None:
    """Forget the session's pending context (it is stale)."""
    path = path_for(directory, session)
    if path is None:
        return
    try:  # noqa: SIM105 - contextlib is an import the fast path does without
        os.unlink(path)
    except OSError:
        pass
