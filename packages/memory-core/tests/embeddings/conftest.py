"""Fixtures for the embedding tests: an isolated environment and a real OpenAI-format server."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_API_KEY_FILE",
    "OPENAI_BASE_URL",
    "EMBEDDING_MODEL",
    "MEMORY_EMBEDDING_PROVIDER",
    "MEMORY_EMBEDDING_MODEL",
    "MEMORY_OPENAI_BASE_URL",
    "MEMORY_EMBEDDING_BATCH_SIZE",
    "MEMORY_EMBEDDING_TIMEOUT_SECONDS",
    "MEMORY_CONFIG",
)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user key, .env or config file leaks into a test."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


def fake_vector(text: str, dim: int) -> list[float]:
    """What the fake server returns: deterministic per text, not normalised on purpose."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return (np.random.default_rng(seed).standard_normal(dim) * 3.0).round(6).tolist()


# A scripted reply: (status, headers, body). ``None`` means a normal embeddings answer.
Reply = tuple[int, dict[str, str], Any] | None


@dataclass
class FakeOpenAI:
    """An HTTP server speaking the OpenAI embeddings wire format, run in a thread.

    ``script`` is consumed one reply per request; when empty, requests succeed.
    ``hang`` makes every request block until the test ends (for client timeouts).
    """

    dim: int = 8
    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    hang: threading.Event | None = None
    url: str = ""
    clients: list[Any] = field(default_factory=list)  # providers to close at teardown

    def vector(self, text: str) -> list[float]:
        return fake_vector(text, self.dim)

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(text, self.dim)}
            for i, text in enumerate(inputs)
        ]
        data.reverse()  # real servers may answer out of order; clients sort by index
        return {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
        }


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    state = FakeOpenAI()
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            body = json.loads(raw)
            state.requests.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                    "client_port": self.client_address[1],
                }
            )
            if state.hang is not None:
                release.wait()
                return
            reply = state.script.pop(0) if state.script else None
            if reply is None:
                status, headers, payload = 200, {}, state.answer(body)
            else:
                status, headers, payload = reply
            out = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        for client in state.clients:
            client.close()
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sleeps() -> tuple[list[float], Callable[[float], None]]:
    """A clock for backoff: records the requested delays instead of waiting them out."""
    recorded: list[float] = []
    return recorded, recorded.append
