"""The durable hand-off between hook processes and the recorder: an append-only spool.

A hook process appends one JSON line and fsyncs before it exits, so an event is safe
once the hook returns, whether or not the recorder is running. The recorder takes the
whole spool by renaming it (under the same lock) and ingests the taken file; a hook that
opened the file before the rename notices the inode changed and reopens. Files taken but
not yet ingested (a crash) are ingested first on the next start.

Standard library only, and no pathlib or typing: this runs in every hook call.
"""

from __future__ import annotations

import fcntl
import os

from memory_cli.hooks import _jsonio

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

SPOOL = "spool.jsonl"
TAKEN_PREFIX = "spool."
TAKEN_SUFFIX = ".taken"


def hook_dir() -> str:
    """Where the spool, the socket and the session state live: ``MEMORY_HOOK_DIR``, else
    ``$XDG_STATE_HOME/memory/hooks`` (``~/.local/state/memory/hooks``)."""
    explicit = os.environ.get("MEMORY_HOOK_DIR")
    if explicit:
        return os.path.abspath(explicit)
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(state, "memory", "hooks")


def append(directory: str, record: dict[str, Any]) -> None:
    """Append one record durably (fsync) under the spool lock.

    Raises:
        OSError: the record could not be written whole (e.g. the disk is full); then it
            is not acknowledged, and what was written of it is a line the reader skips.
    """
    os.makedirs(directory, mode=0o700, exist_ok=True)
    line = (_jsonio.dumps(record) + "\n").encode()
    path = os.path.join(directory, SPOOL)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(path).st_ino
            except FileNotFoundError:
                current = -1
            stat = os.fstat(fd)
            if current != stat.st_ino:
                continue  # the recorder took the file between our open and our lock
            if stat.st_size and os.pread(fd, 1, stat.st_size - 1) != b"\n":
                line = b"\n" + line  # a killed writer's partial line stays a line of its own
            if os.write(fd, line) != len(line):
                raise OSError(f"short write to {path}")
            # The line is whole: the recorder may take the file now. The fsync (1-8 ms
            # here) runs without the lock, so a recall that ingests first does not wait
            # for it; it flushes this inode whatever name the file has by then.
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.fsync(fd)
            if stat.st_size == 0:
                _fsync_dir(directory)  # the file's name is durable too
            return
        finally:
            os.close(fd)  # closing releases the lock


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def take(directory: str) -> list[str]:
    """Rename the spool aside for ingestion; returns every taken file, oldest first."""
    path = os.path.join(directory, SPOOL)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return _taken(directory)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_size:
            seq = 1 + max((_seq(p) for p in _taken(directory)), default=0)
            os.rename(path, os.path.join(directory, f"{TAKEN_PREFIX}{seq:012d}{TAKEN_SUFFIX}"))
    finally:
        os.close(fd)
    return _taken(directory)


def read(path: str) -> Iterator[dict[str, Any] | None]:
    """The records of a taken file; ``None`` for a line that is not a JSON object (a torn
    write from a killed process), which the recorder counts and skips."""
    with open(path, "rb") as f:
        for raw in f:
            try:
                value = _jsonio.loads(raw)
            except (ValueError, RecursionError):
                yield None
                continue
            yield value if isinstance(value, dict) else None


def _taken(directory: str) -> list[str]:
    names = [
        n for n in os.listdir(directory) if n.startswith(TAKEN_PREFIX) and n.endswith(TAKEN_SUFFIX)
    ]
    return [os.path.join(directory, n) for n in sorted(names, key=_seq)]


def _seq(name: str) -> int:
    name = os.path.basename(name)
    middle = name[len(TAKEN_PREFIX) : -len(TAKEN_SUFFIX)]
    return int(middle) if middle.isdigit() else 0
