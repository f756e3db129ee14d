"""The recorder process: holds the memory open, ingests the spool, answers context.

Started in the background by the first hook call that finds no recorder (one per hook
directory, guarded by a lock file), it keeps the database, the cache and the embedder
warm so a hook call costs a socket round trip instead of a cold start. It exits after
``MEMORY_HOOK_IDLE_SECONDS`` (default 900) without a request, ingesting first. Requests
are one JSON line on a Unix socket: ``{"op": "ingest"}``, ``{"op": "context", "record":
<the prompt's record>}`` (answered with ``{"context": "…"}``, which the hook acknowledges with
``ack``) or ``{"op": "shutdown"}``.

A context that is not acknowledged (the hook gave up waiting) is left in ``_pending`` for
the session's next tool call, and so is the context of a prompt spooled while the
recorder was starting (the first prompt of a session that started it): the agent gets
its recall before its next step instead of not at all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections import deque
from pathlib import Path
from typing import Any, Literal

from memory_core import MemoryConfig, SelfLearningMemory
from memory_core.embeddings import provider_from_config
from memory_core.protocols import EmbeddingProvider

from memory_cli._secrets import mask_url
from memory_cli.hooks import _pending
from memory_cli.hooks._context import build_context
from memory_cli.hooks._embed_cache import RecentEmbeddings
from memory_cli.hooks._recorder import Applied, HookRecorder

log = logging.getLogger("memory_cli.hooks")

SOCKET = "recorder.sock"
DEFAULT_IDLE_SECONDS = 900.0
REQUEST_BYTES = 64 * 1024  # a context request carries its record (prompt ≤ 2,000 chars)
ACK_SECONDS = 1.0
FRESH_SECONDS = 600.0  # a prompt spooled longer ago than this gets no late context


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


def _acked(conn: socket.socket) -> bool:
    """Whether the hook read the reply in time (it then writes ``ack``)."""
    try:
        conn.settimeout(ACK_SECONDS)
        return conn.recv(16).startswith(b"ack")
    except OSError:
        return False


def _embedder(config: MemoryConfig) -> EmbeddingProvider | Literal["auto"] | None:
    """The configured provider, remembering recent prompts' vectors (``_embed_cache``);
    ``"auto"`` when it cannot be built here, so the memory reports why as it always does."""
    try:
        provider = provider_from_config(config)
    except Exception:
        return "auto"
    return RecentEmbeddings(provider) if provider is not None else None


class RecorderServer:
    def __init__(self, directory: Path, memory: SelfLearningMemory, database: str) -> None:
        self.directory = directory
        self.memory = memory
        self.database = database
        self.recorder = HookRecorder(memory, directory)
        # context left on disk beside the database would be clear text: not when encrypted
        self.keep_pending = not memory.config.encrypt_database
        # request received → reply sent, of the last context requests (``ping`` shows it)
        self.recall_ms: deque[float] = deque(maxlen=200)
        self.recall_cpu_ms: deque[float] = deque(maxlen=200)  # this thread's CPU time

    def context_for(self, applied: Applied | None) -> str:
        if applied is None or not applied.prompt:
            return ""
        return build_context(
            self.memory, applied.prompt, applied.project, episode_id=applied.episode
        )

    def handle(self, conn: socket.socket) -> bool:
        """Serve one request; returns False when asked to shut down."""
        conn.settimeout(2.0)
        request = _read_request(conn)
        began, began_cpu = time.monotonic(), time.thread_time()
        self.recorder.ingest()
        op = request.get("op")
        reply: dict[str, Any] = {"ok": True}
        applied = None
        if op == "context":
            record = request.get("record")
            if isinstance(record, dict):  # sent before it was spooled: apply it now
                self.recorder.ingest_one(record)
                request["id"] = record.get("id")
            applied = self.recorder.applied.get(str(request.get("id", "")))
            reply["context"] = self.context_for(applied)
        elif op == "ping":
            reply.update(
                database=self.database,
                pid=os.getpid(),
                recall_ms=list(self.recall_ms),
                cpu_ms=list(self.recall_cpu_ms),
            )
        with contextlib.suppress(OSError):  # an ingest poke does not wait for the reply
            conn.sendall(json.dumps(reply).encode() + b"\n")
        if op == "context":
            self.recall_ms.append(round((time.monotonic() - began) * 1000, 2))
            self.recall_cpu_ms.append(round((time.thread_time() - began_cpu) * 1000, 2))
        if applied is not None and reply["context"] and not _acked(conn):
            self.leave_pending(applied, reply["context"])
        return op != "shutdown"

    def leave_pending(self, applied: Applied, context: str) -> None:
        """Keep a context its prompt's hook call did not take, if its turn is still on."""
        self.recorder.ingest()  # a Stop spooled meanwhile makes it stale
        session = self.recorder.sessions.get(applied.session)
        if self.keep_pending and session is not None and session.episode is not None:
            _pending.write(str(self.directory), applied.session, context)

    def catch_up(self, before: set[str]) -> None:
        """Late context for the prompts ingested at start (spooled while no recorder
        listened): the latest fresh one of each session whose turn is still on."""
        latest: dict[str, Applied] = {}
        for rid, applied in self.recorder.applied.items():
            if rid not in before and applied.kind == "prompt":
                latest[applied.session] = applied
        for applied in latest.values():
            if time.time() - applied.at <= FRESH_SECONDS:
                context = self.context_for(applied)
                if context:
                    self.leave_pending(applied, context)

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
            before = set(self.recorder.applied)
            self.recorder.ingest()
            self.catch_up(before)
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


def _first_recall(memory: SelfLearningMemory) -> None:
    """Recall once before listening: a process's first query costs ~10x the next ones
    (the inference session's buffers, the statements, the calibration), and that cost
    belongs to the start, not to the first prompt."""
    try:
        build_context(memory, "warm up the recall of past work", "unknown")
    except Exception as exc:  # a failing query is reported by the requests themselves
        log.warning("the first recall failed: %s", exc)


def serve(directory: Path, lock: int) -> int:
    """Run the recorder for ``directory``, whose lock the caller holds as ``lock`` (the
    fd is closed, and the lock released, when the recorder is done)."""
    try:
        config = MemoryConfig.load()
        memory = SelfLearningMemory(config=config, embedder=_embedder(config))
        db = config.database_path()
        database = f"file:{db.resolve()}" if db is not None else mask_url(config.database_url)
        try:
            memory.warm()
            _first_recall(memory)
            RecorderServer(directory, memory, str(database)).run(idle_seconds())
        finally:
            memory.close()
        return 0
    finally:
        os.close(lock)
