"""Context that missed its prompt's budget, waiting for a later hook call of the session.

A prompt's hook call waits for its recall only ``MEMORY_HOOK_WAIT_MS``. When the
recorder answers later (a busy machine), or was still starting when the prompt came
(the first prompt after ``SessionStart`` started it), the recorder leaves the context
here, one file per session. The session's next ``PostToolUse`` or ``PostToolUseFailure``
call takes it (an atomic rename, so exactly one call does) and hands it to the agent as
that event's ``additionalContext``, before the agent's next step.

A turn without a tool call leaves it untaken; the end of the turn (``Stop``) keeps it,
and the session's next prompt takes it: when that prompt's own recall comes in time,
the fresh one wins and the old one is dropped; otherwise the old one is shown if it is
still relevant (``relevant``: the new prompt shares a word with the one it was recalled
for, or has no word of its own, as a follow-up like "go on" has). ``SessionEnd``
deletes it.

The file's first line holds the words of the prompt it was recalled for, the rest is
the context. With an encrypted database nothing readable is written: the recorder keeps
the context in its memory and leaves an empty file as a marker (``MARKER``); the hook
call that takes the marker asks the recorder for the text over its socket.

Standard library only, and no pathlib or typing: this runs in every hook call.
"""

from __future__ import annotations

import os
import time

PREFIX = "context."
MAX_SESSION_BYTES = 100
MARKER = ""
"""What a taken marker reads as: the context is held by the recorder."""
FRESH_SECONDS = 1800.0
"""A context left longer ago than this is stale whatever comes next."""
_STEM = 4  # words compare by their first letters: "tests" and "testing" are one word
_STOP = frozenset(
    [
        "about",
        "again",
        "also",
        "because",
        "been",
        "before",
        "being",
        "could",
        "does",
        "done",
        "from",
        "have",
        "here",
        "into",
        "just",
        "like",
        "make",
        "more",
        "need",
        "please",
        "should",
        "some",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "want",
        "what",
        "when",
        "where",
        "which",
        "while",
        "will",
        "with",
        "would",
        "your",
        "thanks",
        "today",
        "okay",
        "yeah",
        "sure",
        "good",
        "great",
    ]
)


def words(text: str) -> set[str]:
    """The content words of ``text`` (lower case, four letters or more, stopwords left
    out, compared by their first four letters); no regex, so cheap in a hook call."""
    cleaned = "".join(c if c.isalnum() else " " for c in text.lower())
    return {w[:_STEM] for w in cleaned.split() if len(w) >= 4 and w not in _STOP}


def relevant(recalled_for: str, prompt: str) -> bool:
    """Whether a context recalled for the words ``recalled_for`` still applies to the
    session's new ``prompt``: a shared word, or a prompt without words of its own."""
    new = words(prompt)
    return not new or bool(new & set(recalled_for.split()))


def path_for(directory: str, session: str) -> str | None:
    """The file of ``session``'s pending context (``None`` for an overlong session id)."""
    raw = session.encode("utf-8", "replace")
    if len(raw) > MAX_SESSION_BYTES:
        return None
    return os.path.join(directory, PREFIX + raw.hex())


def write(directory: str, session: str, prompt: str, context: str | None) -> bool:
    """Leave ``context`` (recalled for ``prompt``) for a later call of the session; with
    ``None``, only the marker that the recorder holds it. False if it cannot be kept."""
    path = path_for(directory, session)
    if path is None or context == "":
        return False
    data = b"" if context is None else f"{' '.join(sorted(words(prompt)))}\n{context}".encode()
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return True


def take(directory: str, session: str) -> tuple[str, str] | None:
    """The session's pending context, removed, as (the words it was recalled for, the
    text); the text is ``MARKER`` when the recorder holds it. Only one caller ever gets
    it; ``None`` when none is pending or it is stale."""
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
            if os.fstat(f.fileno()).st_mtime < time.time() - FRESH_SECONDS:
                return None
            data = f.read().decode("utf-8", "replace")
    finally:
        os.unlink(mine)
    recalled_for, _, context = data.partition("\n")
    return recalled_for, context


def drop(directory: str, session: str) -> None:
    """Forget the session's pending context (it is stale)."""
    path = path_for(directory, session)
    if path is None:
        return
    try:  # noqa: SIM105 - contextlib is an import the fast path does without
        os.unlink(path)
    except OSError:
        pass


def drop_all(directory: str) -> None:
    """Forget every pending context (a new recorder holds none of the marked ones)."""
    for name in os.listdir(directory):
        if name.startswith(PREFIX):
            try:  # noqa: SIM105 - as above
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass
