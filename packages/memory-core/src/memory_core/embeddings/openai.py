"""Embeddings from any OpenAI-compatible ``/embeddings`` endpoint (OpenAI, Ollama, vLLM, LM Studio).

One persistent ``httpx.Client``; inputs sent in batches of ``embedding_batch_size``; 429,
5xx and connection failures retried with exponential backoff and full jitter (a server's
``Retry-After`` wins); any other 4xx is an ``EmbeddingError`` naming the status and the
server's message. The API key is a ``SecretStr`` until it goes into the header: it is never
logged, and any echo of it in a server message is masked::

    provider = OpenAIEmbeddingProvider(api_key="sk-...", model="text-embedding-3-small")
    provider.embed(["fix the flaky login test"]).shape   # (1, 1536)
"""

from __future__ import annotations

import base64
import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import SecretStr

from memory_core._errors import ConfigurationError, EmbeddingError, InvalidInputError
from memory_core.embeddings._input import check_texts

if TYPE_CHECKING:
    import httpx

    from memory_core._config import MemoryConfig

__all__ = ["DEFAULT_OPENAI_BASE_URL", "DEFAULT_OPENAI_MODEL", "OpenAIEmbeddingProvider"]

logger = logging.getLogger("memory_core.embeddings.openai")

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_OPENAI_MODEL = "text-embedding-3-small"
# Widths of well-known models, so ``dimension`` needs no request; others are learnt from
# the first response (or a one-text probe).
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
}
# As the official SDKs: timeouts, lock conflicts, rate limits and any server error.
_RETRY_STATUS = frozenset({408, 409, 429})
_MESSAGE_LIMIT = 500


def _httpx() -> Any:
    """httpx, an optional dependency (``selfmem-core[openai]``; the server has it)."""
    try:
        import httpx
    except ModuleNotFoundError:
        raise EmbeddingError(
            "the openai embedding provider needs httpx: pip install 'selfmem-core[openai]'"
        ) from None
    return httpx


class OpenAIEmbeddingProvider:
    """``EmbeddingProvider`` over the OpenAI embeddings wire format.

    Args:
        api_key: bearer token; ``None`` for local servers that need none.
        base_url: the API root; ``/embeddings`` is appended.
        model: model name sent in each request; ``model_id`` is ``openai:<model>``.
        batch_size: inputs per request.
        timeout: seconds per request (connect, read, write, pool).
        max_retries: retries after the first attempt for retryable failures.
        backoff_base: first backoff ceiling in seconds; doubles per retry, full jitter.
        backoff_max: ceiling of one computed backoff.
        max_retry_after: the longest ``Retry-After`` honoured; a longer one fails at once.
        max_input_chars: inputs are cut to this many characters (the API rejects over-long
            inputs; retrieval texts are steps, far shorter).
        dimension: the vector width, when the model is not in ``KNOWN_DIMENSIONS``.
        transport, sleep: injection points (a proxy transport; a clock for tests).
    """

    name: ClassVar[str] = "openai"

    def __init__(
        self,
        *,
        api_key: SecretStr | str | None = None,
        base_url: str = DEFAULT_OPENAI_BASE_URL,
        model: str = DEFAULT_OPENAI_MODEL,
        batch_size: int = 256,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
        max_retry_after: float = 60.0,
        max_input_chars: int = 16_000,
        dimension: int | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        api_key_file: str | os.PathLike[str] | None = None,
    ) -> None:
        for field, value, low in (
            ("batch_size", batch_size, 1),
            ("timeout", timeout, 0),
            ("max_retries", max_retries, 0),
            ("max_input_chars", max_input_chars, 1),
        ):
            if value < low or (field == "timeout" and value == 0):
                raise InvalidInputError(f"{field} must be at least {low}, got {value}", field=field)
        if not model:
            raise InvalidInputError("model must not be empty", field="model")
        if isinstance(api_key, str):
            api_key = SecretStr(api_key)
        self._api_key = api_key if api_key is not None and api_key.get_secret_value() else None
        # Rotation without restart: a key mounted as a file (OPENAI_API_KEY_FILE) is read
        # again when the file changes (one stat per request).
        self._key_file = Path(api_key_file) if api_key_file else None
        self._key_stamp: tuple[int, int] | None = None
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._batch_size = batch_size
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_retry_after = max_retry_after
        self._max_input_chars = max_input_chars
        self._dimension = dimension if dimension is not None else KNOWN_DIMENSIONS.get(model)
        self._httpx = _httpx()  # fails here, at configuration, when httpx is missing
        self._transport = transport
        self._sleep = sleep
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None

    @classmethod
    def from_config(cls, config: MemoryConfig) -> OpenAIEmbeddingProvider:
        """Key, base URL, model, batch size and timeout from ``MemoryConfig``."""
        key = config.openai_api_key
        has_key = key is not None and bool(key.get_secret_value())
        if not has_key and config.openai_base_url.rstrip("/") == DEFAULT_OPENAI_BASE_URL:
            raise ConfigurationError(
                "the openai embedding provider needs OPENAI_API_KEY for api.openai.com "
                "(or OPENAI_BASE_URL of a local server such as Ollama)",
                key="OPENAI_API_KEY",
            )
        model = config.embedding_model or DEFAULT_OPENAI_MODEL
        if model.startswith("openai:"):
            model = model[len("openai:") :]
        return cls(
            api_key=key,
            api_key_file=os.environ.get("OPENAI_API_KEY_FILE") or None,
            base_url=config.openai_base_url,
            model=model,
            batch_size=config.embedding_batch_size,
            timeout=config.embedding_timeout_seconds,
        )

    def __repr__(self) -> str:
        return f"OpenAIEmbeddingProvider(url={self._url!r}, model={self._model!r})"

    # -- EmbeddingProvider ---------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return f"openai:{self._model}"

    @property
    def dimension(self) -> int:
        """Known for common models; otherwise learnt by embedding one short probe text."""
        if self._dimension is None:
            self._request(["dimension probe"])
        assert self._dimension is not None
        return self._dimension

    def warm(self) -> None:
        """Open the connection pool; learn the width if it is not known yet."""
        self._ensure_client()
        if self._dimension is None:
            _ = self.dimension

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Rows in input order, L2-normalised; an empty or blank text gives a zero row
        (the API rejects empty inputs)."""
        check_texts(texts)
        wanted = [i for i, text in enumerate(texts) if text.strip()]
        chunks: list[npt.NDArray[np.float32]] = []
        for start in range(0, len(wanted), self._batch_size):
            batch = [
                texts[i][: self._max_input_chars] for i in wanted[start : start + self._batch_size]
            ]
            chunks.append(self._request(batch))
        width = self.dimension if not chunks else chunks[0].shape[1]
        out = np.zeros((len(texts), width), dtype=np.float32)
        if chunks:
            out[wanted] = np.concatenate(chunks)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    # -- HTTP --------------------------------------------------------------------------------
    def _ensure_client(self) -> httpx.Client:
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                headers = {"Accept": "application/json"}
                if self._api_key is not None:
                    # httpx masks Authorization in reprs of headers and requests.
                    headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
                self._client = self._httpx.Client(
                    headers=headers, timeout=self._timeout, transport=self._transport
                )
            return self._client

    def _reload_key(self, client: httpx.Client) -> None:
        if self._key_file is None:
            return
        try:
            st = self._key_file.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._key_stamp:
                return
            key = self._key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise EmbeddingError(f"cannot read the API key file: {exc.strerror}") from None
        self._key_stamp = stamp
        if key:
            self._api_key = SecretStr(key)
            client.headers["Authorization"] = f"Bearer {key}"

    def _request(self, batch: list[str]) -> npt.NDArray[np.float32]:
        """One batch, retried; returns (len(batch), dim) raw vectors."""
        body = {"input": batch, "model": self._model, "encoding_format": "float"}
        attempt = 0
        while True:
            client = self._ensure_client()
            self._reload_key(client)
            try:
                response = client.post(self._url, json=body)
            except self._httpx.TransportError as exc:
                if attempt >= self._max_retries:
                    raise EmbeddingError(
                        f"embedding request to {self._url} failed after {attempt + 1} attempts: "
                        f"{type(exc).__name__}: {self._mask(str(exc))}"
                    ) from exc
                delay = self._backoff(attempt)
                logger.warning(
                    "embedding request failed, retrying",
                    extra={
                        "fields": {
                            "error": type(exc).__name__,
                            "attempt": attempt + 1,
                            "delay_s": round(delay, 3),
                        }
                    },
                )
            else:
                if response.status_code < 400:
                    return self._parse(response, len(batch))
                message = self._server_message(response)
                if response.status_code < 500 and response.status_code not in _RETRY_STATUS:
                    raise EmbeddingError(
                        f"embedding request to {self._url} was rejected: HTTP "
                        f"{response.status_code} {response.reason_phrase}: {message}"
                    )
                retry_after = _retry_after_seconds(response)
                if retry_after is not None and retry_after > self._max_retry_after:
                    raise EmbeddingError(
                        f"embedding endpoint {self._url} asks to retry after {retry_after:.0f} s "
                        f"(HTTP {response.status_code}: {message}); more than the "
                        f"{self._max_retry_after:.0f} s this client waits"
                    )
                if attempt >= self._max_retries:
                    raise EmbeddingError(
                        f"embedding request to {self._url} failed after {attempt + 1} attempts: "
                        f"HTTP {response.status_code} {response.reason_phrase}: {message}"
                    )
                delay = retry_after if retry_after is not None else self._backoff(attempt)
                logger.warning(
                    "embedding request throttled or failed, retrying",
                    extra={
                        "fields": {
                            "status": response.status_code,
                            "attempt": attempt + 1,
                            "delay_s": round(delay, 3),
                        }
                    },
                )
            self._sleep(delay)
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(max, base * 2**n)]."""
        return random.uniform(0, min(self._backoff_max, self._backoff_base * 2**attempt))

    def _parse(self, response: httpx.Response, expected: int) -> npt.NDArray[np.float32]:
        try:
            payload = response.json()
            data = sorted(payload["data"], key=lambda item: item["index"])
            rows = [_vector(item["embedding"]) for item in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(
                f"embedding endpoint {self._url} sent a response that is not the OpenAI "
                f"embeddings format: {type(exc).__name__}: {exc}"
            ) from exc
        if len(rows) != expected or [item["index"] for item in data] != list(range(expected)):
            raise EmbeddingError(
                f"embedding endpoint {self._url} returned {len(rows)} vectors for {expected} inputs"
            )
        widths = {row.shape[0] for row in rows}
        if len(widths) != 1:
            raise EmbeddingError(f"embedding endpoint {self._url} returned mixed widths {widths}")
        width = widths.pop()
        if self._dimension is None:
            self._dimension = width
        elif width != self._dimension:
            raise EmbeddingError(
                f"model {self._model!r} returned {width}-d vectors, expected {self._dimension}"
            )
        return np.stack(rows)

    def _server_message(self, response: httpx.Response) -> str:
        """The server's own words: ``error.message`` of the OpenAI error body, else the text."""
        try:
            payload: Any = response.json()
        except ValueError:
            text = response.text.strip()
        else:
            error = payload.get("error") if isinstance(payload, dict) else None
            if isinstance(error, dict) and error.get("message"):
                text = str(error["message"])
            elif isinstance(error, str):
                text = error
            else:
                text = response.text.strip()
        return self._mask(text[:_MESSAGE_LIMIT] or "(empty body)")

    def _mask(self, text: str) -> str:
        if self._api_key is not None:
            secret = self._api_key.get_secret_value()
            text = text.replace(secret, "***")
        return text


def _vector(raw: object) -> npt.NDArray[np.float32]:
    """A float list, or base64 little-endian float32 (``encoding_format=base64`` servers)."""
    if isinstance(raw, str):
        return np.frombuffer(base64.b64decode(raw), dtype="<f4").astype(np.float32)
    if not isinstance(raw, list) or not raw:
        raise TypeError(f"embedding must be a non-empty list of numbers, got {type(raw).__name__}")
    return np.asarray(raw, dtype=np.float32)


def _retry_after_seconds(response: httpx.Response) -> float | None:
    """``retry-after-ms`` (OpenAI), else ``Retry-After`` as seconds or an HTTP date."""
    ms = response.headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
