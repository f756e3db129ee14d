"""The recorder process: holds the memory open, ingests the spool, answers context.

Started in the background by the first hook call that finds no recorder (one per hook
directory, guarded by a lock file), it keeps the database, the cache and the embedder
warm so a hook call costs a socket round trip instead of a cold start. It exits after
``MEMORY_HOOK_IDLE_SECONDS`` (default 900) without a request, ingesting first. Requests
are one JSON line on a Unix socket: ``{"op": "ingest"}``, ``{"op": "take", "session": …}``
(the context held for a session, encrypted database), ``{"op": "context", "record": <the
prompt's record>}`` or ``{"op": "shutdown"}``. A context request is answered in lines,
each a better answer (``{"context": "…"}``; the episodes first, then with the playbook,
the last one ``"final": true``), and the hook says how many it read in time (``ack N``).

A context the hook did not read in time is left in ``_pending`` for the session's next
tool call (or, after a turn without one, its next prompt), and so is the context of a
prompt spooled while the recorder was starting (the first prompt of a session that
started it): the agent gets its recall before its next step instead of not at all.
"""

from __future__ import annotations

import contextlib
import gc
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
from memory_cli.hooks._bytecode import compile_fast_path
from memory_cli.hooks._context import build_context, episodes_for, playbook_for, render
from memory_cli.hooks._embed_cache import RecentEmbeddings
from memory_cli.hooks._fast import wait_seconds
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


def _send(conn: socket.socket, reply: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):  # the hook stopped waiting: its ack says so
        conn.sendall(json.dumps(reply).encode() + b"\n")


def _taken(conn: socket.socket, sent: int) -> int:
    """How many of the ``sent`` reply lines the hook read in time: it writes ``ack N``
    when it stops reading (a bare ``ack``: all of them); nothing or no ack: none."""
    try:
        conn.settimeout(ACK_SECONDS)
        words = conn.recv(32).split()
    except OSError:
        return 0
    if not words or words[0] != b"ack":
        return 0
    if len(words) == 1:
        return sent
    return min(sent, int(words[1])) if words[1].isdigit() else 0


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
        # context left on disk beside the database would be clear text: when encrypted it
        # is held here, and only an empty marker file says that it is (``_pending``)
        self.encrypted = memory.config.encrypt_database
        self.held: dict[str, tuple[str, str]] = {}  # session → (words recalled for, text)
        self.left: dict[str, str] = {}  # session → the context last left for it
        if self.encrypted:
            _pending.drop_all(str(directory))  # markers of a recorder that is gone
        # request received → reply sent, of the last prompts' context requests (``ping``
        # shows them): the episodes (what a prompt's call waits for) and the whole
        self.recall_ms: deque[float] = deque(maxlen=200)
        self.full_ms: deque[float] = deque(maxlen=200)
        self.recall_cpu_ms: deque[float] = deque(maxlen=200)  # this thread's CPU time
        self.full_cpu_ms: deque[float] = deque(maxlen=200)

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
        op = request.get("op")
        if op == "context":
            self.answer(conn, request)
            return True
        self.recorder.ingest()
        if op == "take":
            self.give(conn, str(request.get("session", "")))
            return True
        reply: dict[str, Any] = {"ok": True}
        if op == "ping":
            reply.update(
                database=self.database,
                pid=os.getpid(),
                recall_ms=list(self.recall_ms),
                full_ms=list(self.full_ms),
                cpu_ms=list(self.recall_cpu_ms),
                full_cpu_ms=list(self.full_cpu_ms),
            )
        with contextlib.suppress(OSError):  # an ingest poke does not wait for the reply
            conn.sendall(json.dumps(reply).encode() + b"\n")
        return op != "shutdown"

    def answer(self, conn: socket.socket, request: dict[str, Any]) -> None:
        """A prompt's context, fastest part first: each line a better answer, the last
        one ``final``; the hook shows the last it read in time and says how many.

        The record is applied (a write: the prompt opens the session's episode) only
        after the episodes are sent, and the garbage collector waits until the answer
        is complete: neither is what the agent waits for.
        """
        began, began_cpu = time.monotonic(), time.thread_time()
        record = request.get("record")
        if not isinstance(record, dict) or not isinstance(record.get("session"), str):
            _send(conn, {"ok": True, "context": "", "final": True})
            return
        session = record["session"]
        sent: list[tuple[str, str]] = []  # (previous | fresh, text), as sent
        collecting = gc.isenabled()
        gc.disable()
        try:
            held = self.held.pop(session, None) if request.get("previous") else None
            prompt, project = self.recorder.preview(record)
            if held is not None and prompt and _pending.relevant(held[0], prompt):
                sent.append(("previous", held[1]))  # the last turn's, until the fresh one
                _send(conn, {"ok": True, "context": held[1], "previous": True})
            hits = episodes_for(self.memory, prompt, project) if prompt else []
            first = render(hits, None)
            sent.append(("fresh", first))
            _send(conn, {"ok": True, "context": first, "final": not hits})
            if prompt:
                self.recall_ms.append(round((time.monotonic() - began) * 1000, 2))
                self.recall_cpu_ms.append(round((time.thread_time() - began_cpu) * 1000, 2))
            self.recorder.ingest()  # what was spooled before it, then the record itself
            self.recorder.ingest_one(record)
            full = first
            if hits:
                applied = self.recorder.applied.get(str(record.get("id", "")))
                episode = applied.episode if applied is not None else None
                full = render(hits, playbook_for(self.memory, prompt, project, episode))
                sent.append(("fresh", full))
                _send(conn, {"ok": True, "context": full, "final": True})
        finally:
            if collecting:
                gc.enable()
        if prompt:
            self.full_ms.append(round((time.monotonic() - began) * 1000, 2))
            self.full_cpu_ms.append(round((time.thread_time() - began_cpu) * 1000, 2))
        taken = sent[: _taken(conn, len(sent))]
        shown = taken[-1][1] if taken and taken[-1][0] == "fresh" else ""
        rest = full[len(shown) :].lstrip("\n") if full.startswith(shown) else full
        if rest:  # the playbook its call could not wait for, or all of it
            self.leave_pending(session, prompt, rest)

    def give(self, conn: socket.socket, session: str) -> None:
        """The context held for ``session`` (encrypted database: a tool call found its
        marker); kept, with its marker, if the call did not take it in time."""
        held = self.held.pop(session, None)
        _send(conn, {"ok": True, "context": held[1] if held else "", "final": True})
        if held is not None and not _taken(conn, 1):
            self.held[session] = held
            _pending.write(str(self.directory), session, "", None)

    def leave_pending(self, session: str, prompt: str, context: str) -> None:
        """Keep a context its prompt's hook call did not take, while the session lasts."""
        self.recorder.ingest()  # a SessionEnd spooled meanwhile makes it stale
        if not context or session not in self.recorder.sessions:
            return
        for gone in [s for s in self.left if s not in self.recorder.sessions]:
            del self.left[gone]
        if self.left.get(session) == context:
            return  # left once already: shown (or found stale) by a later call
        self.left[session] = context
        if self.encrypted:
            self.held[session] = (" ".join(sorted(_pending.words(prompt))), context)
            _pending.write(str(self.directory), session, prompt, None)
        else:
            _pending.write(str(self.directory), session, prompt, context)

    def catch_up(self, before: set[str]) -> None:
        """Late context for the prompts ingested at start (spooled while no recorder
        listened): the latest fresh one of each session whose turn is still on (after
        it, the recall would find the turn's own episode)."""
        latest: dict[str, Applied] = {}
        for rid, applied in self.recorder.applied.items():
            if rid not in before and applied.kind == "prompt":
                latest[applied.session] = applied
        for applied in latest.values():
            session = self.recorder.sessions.get(applied.session)
            if session is None or session.episode is None or applied.episode is None:
                continue
            if str(applied.episode) != session.episode or not applied.prompt:
                continue
            if time.time() - applied.at <= FRESH_SECONDS:
                context = self.context_for(applied)
                if context:
                    self.leave_pending(applied.session, applied.prompt, context)

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


def _within_budget(config: MemoryConfig) -> MemoryConfig:
    """``config`` with a retrieval's wait for vectors still being written (of an episode
    completed just before: ``embedding_read_wait_ms``) no longer than a prompt's call
    waits for its answer: waiting longer only makes the answer late, and the episode
    is found by its words meanwhile."""
    budget = wait_seconds() * 1000
    if config.embedding_read_wait_ms <= budget:
        return config
    return config.model_copy(update={"embedding_read_wait_ms": budget})


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
        config = _within_budget(MemoryConfig.load())
        memory = SelfLearningMemory(config=config, embedder=_embedder(config))
        db = config.database_path()
        database = f"file:{db.resolve()}" if db is not None else mask_url(config.database_url)
        try:
            memory.warm()
            _first_recall(memory)
            compile_fast_path()
            gc.freeze()  # what the start allocated is never garbage: no collection walks it
            RecorderServer(directory, memory, str(database)).run(idle_seconds())
        finally:
            memory.close()
        return 0
    finally:
        os.close(lock)
