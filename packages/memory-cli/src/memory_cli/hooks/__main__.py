"""``python -m memory_cli.hooks serve DIR [LOCK_FD]``: the background recorder (see
``_server``). A hook call that starts it has taken the directory's lock already and
passes it as ``LOCK_FD``; otherwise the lock is taken here, and a second recorder exits
at once, before the heavy imports."""

from __future__ import annotations

import sys
from pathlib import Path


def _lock(directory: str, inherited: str | None) -> int | None:
    """The held lock of ``directory``: the inherited one if it is that file, else taken.
    The lock file then holds the recorder's pid."""
    fd = _held(directory, inherited)
    if fd is not None:
        import os

        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _held(directory: str, inherited: str | None) -> int | None:
    import fcntl
    import os

    path = os.path.join(directory, "recorder.lock")
    if inherited is not None and inherited.isdigit():
        fd = int(inherited)
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                os.set_inheritable(fd, False)
                return fd
        except OSError:
            pass
    os.makedirs(directory, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[0] != "serve":
        print("usage: python -m memory_cli.hooks serve DIR [LOCK_FD]", file=sys.stderr)
        return 2
    lock = _lock(argv[1], argv[2] if len(argv) == 3 else None)
    if lock is None:
        return 0  # another recorder owns this directory
    from memory_core import configure_logging

    from memory_cli.hooks._server import serve

    configure_logging("WARNING", "console", stream=sys.stderr)
    return serve(Path(argv[1]), lock)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
