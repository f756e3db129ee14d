"""``python -m memory_cli.hooks serve DIR``: the background recorder (see ``_server``)."""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "serve":
        print("usage: python -m memory_cli.hooks serve DIR", file=sys.stderr)
        return 2
    import fcntl
    import os

    lock = os.path.join(argv[1], "recorder.lock")
    os.makedirs(argv[1], exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:  # checked before the heavy imports: a second recorder exits at once
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0
    finally:
        os.close(fd)
    from memory_core import configure_logging

    from memory_cli.hooks._server import serve

    configure_logging("WARNING", "console", stream=sys.stderr)
    return serve(Path(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
