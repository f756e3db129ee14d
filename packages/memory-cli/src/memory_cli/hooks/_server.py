"""The recorder process: holds the memory open, ingests the spool, answers context.

Started in the background by the first hook call that finds no recorder (one per hook
directory, guarded by a lock file), it keeps the database, the cache and the embedder
warm so a hook call costs a socket round trip instead of a cold start. It exits after
``MEMORY_HOOK_IDLE_SECONDS`` (default 900) without a request, ingesting first. Requests
are one JSON line on a Unix socket: ``{"op": "ingest"}``, ``{"op": "context", "id":
<record id>}`` (answered with ``{"context": "…"}``) or ``{"op": "shutdown"}``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from memory_core import MemoryConfig, SelfLearningMemory

from memory_cli._secrets import mask_url
from memory_cli.hooks._context import build_context
from memory_cli.hooks._recorder import HookRecorder

log = logging.getLogger("memory_cli.hooks")

SOCKET = "recorder.sock"
DEFAULT_IDLE_SECONDS = 900.0
REQUEST_BYTES = 4096


def idle_seconds() -> float:
    try:
        return max(1.0, float(os.environ.get("MEMORY_HOOK_IDLE_SECONDS", DEFAULT_IDLE_SECONDS)))
    except ValueError:
        return DEFAULT_IDLE_SECONDS


def _read_request(conn: socket.socket) -> dict[str, Any]:
    data = b""
    while b"\n" not in data and len(data) < REQUEST_BYTES:
        chunk = conn.recv(REQUEST_BYTES)
        if not chunk:
            break
        data += chunk
    value = json.loads(data.split(b"\n", 1)[0] or b"{}")
    return value if isinstance(value, dict) else {}


class RecorderServer:
    def __init__(self, directory: Path, memory: SelfLearningMemory, database: str) -> None:
        self.directory = directory
        self.memory = memory
        self.database = database
        self.recorder = HookRecorder(memory, directory)

    def context_for(self, record_id: str) -> str:
        applied = self.recorder.applied.get(record_id)
        if applied is None or not applied.prompt:
            return ""
        return build_context(
            self.memory, applied.prompt, applied.project, episode_id=applied.episode
        )

    def handle(self, conn: socket.socket) -> bool:
        """Serve one request; returns False when asked to shut down."""
        conn.settimeout(2.0)
        request = _read_request(conn)
        self.recorder.ingest()
        op = request.get("op")
        reply: dict[str, Any] = {"ok": True}
        if op == "context":
            reply["context"] = self.context_for(str(request.get("id", "")))
        elif op == "ping":
            reply.update(database=self.database, pid=os.getpid())
        with contextlib.suppress(OSError):  # an ingest poke does not wait for the reply
            conn.sendall(json.dumps(reply).encode() + b"\n")
        return op != "shutdown"

    def run(self, idle: float) -> None:
        path = self.directory / SOCKET
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        os.chmod(path, 0o600)
        listener.listen(64)
        listener.settimeout(idle)
        try:
            self.recorder.ingest()
            while True:
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    break
                with conn:
                    try:
                        if not self.handle(conn):
                            break
                    except Exception as exc:  # a bad request must not stop the recorder
                        log.warning("hook request failed: %s", exc)
        finally:
            listener.close()
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self.recorder.ingest()


def serve(directory: Path, lock: int) -> int:
    """Run the recorder for ``directory``, whose lock the caller holds as ``lock`` (the
    fd is closed, and the lock released, when the recorder is done)."""
    try:
        config = MemoryConfig.load()
        memory = SelfLearningMemory.from_config(config)
        db = config.database_path()
        database = f"file:{db.resolve()}" if db is not None else mask_url(config.database_url)
        try:
            memory.warm()
            RecorderServer(directory, memory, str(database)).run(idle_seconds())
        finally:
            memory.close()
        return 0
    finally:
        os.close(lock)
