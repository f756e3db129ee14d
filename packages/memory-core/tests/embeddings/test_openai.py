"""The OpenAI-compatible provider against a real local HTTP server speaking the wire format."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

import httpx
import numpy as np
import pytest
from memory_core import ConfigurationError, EmbeddingError, InvalidInputError, MemoryConfig
from memory_core.embeddings import OpenAIEmbeddingProvider

KEY = "sk-test-0123456789abcdef-SECRET"
Sleeps = tuple[list[float], Callable[[float], None]]


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def make(fake_openai, sleeps: Sleeps | None = None, **kwargs) -> OpenAIEmbeddingProvider:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("model", "fake-embed")
    kwargs.setdefault("dimension", None)
    if sleeps is not None:
        kwargs["sleep"] = sleeps[1]
    provider = OpenAIEmbeddingProvider(base_url=fake_openai.url, **kwargs)
    fake_openai.clients.append(provider)
    return provider


def test_embeds_in_input_order_normalised(fake_openai) -> None:
    p = make(fake_openai)
    texts = ["first text", "second text", "third text"]
    out = p.embed(texts)
    assert out.shape == (3, 8) and out.dtype == np.float32
    for row, text in zip(out, texts, strict=True):
        np.testing.assert_allclose(row, _unit(fake_openai.vector(text)), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)


def test_request_wire_format_and_auth_header(fake_openai) -> None:
    make(fake_openai).embed(["hello"])
    (request,) = fake_openai.requests
    assert request["path"] == "/v1/embeddings"
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert request["body"] == {
        "input": ["hello"],
        "model": "fake-embed",
        "encoding_format": "float",
    }


def test_no_key_sends_no_authorization(fake_openai) -> None:
    make(fake_openai, api_key=None).embed(["hello"])
    assert "Authorization" not in fake_openai.requests[0]["headers"]


def test_batches_are_split(fake_openai) -> None:
    p = make(fake_openai, batch_size=3)
    texts = [f"text number {i}" for i in range(7)]
    out = p.embed(texts)
    assert [len(r["body"]["input"]) for r in fake_openai.requests] == [3, 3, 1]
    assert [t for r in fake_openai.requests for t in r["body"]["input"]] == texts
    np.testing.assert_allclose(out[6], _unit(fake_openai.vector("text number 6")), atol=1e-6)


def test_blank_texts_are_zero_rows_and_not_sent(fake_openai) -> None:
    out = make(fake_openai).embed(["", "real words", "  "])
    assert fake_openai.requests[0]["body"]["input"] == ["real words"]
    assert not out[0].any() and not out[2].any()
    assert np.linalg.norm(out[1]) == pytest.approx(1.0, abs=1e-6)


def test_dimension_known_default_needs_no_request(fake_openai) -> None:
    p = make(fake_openai, model="text-embedding-3-small")
    assert p.dimension == 1536
    assert p.model_id == "openai:text-embedding-3-small"
    assert fake_openai.requests == []


def test_dimension_discovered_by_probe(fake_openai) -> None:
    p = make(fake_openai)
    assert p.dimension == 8
    assert len(fake_openai.requests) == 1
    assert p.dimension == 8
    assert len(fake_openai.requests) == 1


def test_width_change_is_an_error(fake_openai) -> None:
    p = make(fake_openai, dimension=16)
    with pytest.raises(EmbeddingError, match="returned 8-d vectors, expected 16"):
        p.embed(["x"])


def test_429_then_success_honours_retry_after(fake_openai, sleeps: Sleeps) -> None:
    fake_openai.script = [
        (429, {"Retry-After": "2"}, {"error": {"message": "Rate limit reached"}}),
        (429, {"retry-after-ms": "250"}, {"error": {"message": "Rate limit reached"}}),
    ]
    out = make(fake_openai, sleeps).embed(["after the storm"])
    np.testing.assert_allclose(out[0], _unit(fake_openai.vector("after the storm")), atol=1e-6)
    assert sleeps[0] == [2.0, 0.25]
    assert len(fake_openai.requests) == 3


def test_5xx_retries_exhausted(fake_openai, sleeps: Sleeps) -> None:
    fake_openai.script = [(500, {}, {"error": {"message": "boom"}})] * 3
    p = make(fake_openai, sleeps, max_retries=2, backoff_base=0.5, backoff_max=20.0)
    with pytest.raises(EmbeddingError) as info:
        p.embed(["doomed"])
    message = str(info.value)
    assert "HTTP 500" in message and "boom" in message and "3 attempts" in message
    assert len(fake_openai.requests) == 3
    delays = sleeps[0]
    assert len(delays) == 2
    assert 0 <= delays[0] <= 0.5 and 0 <= delays[1] <= 1.0  # full jitter under the ceilings


def test_401_is_a_clear_error_without_retry(fake_openai, sleeps: Sleeps) -> None:
    fake_openai.script = [
        (
            401,
            {},
            {"error": {"message": f"Incorrect API key provided: {KEY}.", "type": "auth"}},
        )
    ]
    with pytest.raises(EmbeddingError) as info:
        make(fake_openai, sleeps).embed(["nope"])
    message = str(info.value)
    assert "HTTP 401 Unauthorized" in message
    assert "Incorrect API key provided: ***" in message
    assert KEY not in message
    assert len(fake_openai.requests) == 1 and sleeps[0] == []


def test_400_with_plain_text_body(fake_openai) -> None:
    fake_openai.script = [(400, {}, b"input too long")]
    with pytest.raises(EmbeddingError, match="HTTP 400 Bad Request: input too long"):
        make(fake_openai).embed(["x"])


def test_retry_after_longer_than_allowed_fails_at_once(fake_openai, sleeps: Sleeps) -> None:
    fake_openai.script = [(429, {"Retry-After": "3600"}, {"error": {"message": "quota"}})]
    with pytest.raises(EmbeddingError, match="retry after 3600 s"):
        make(fake_openai, sleeps, max_retry_after=60).embed(["x"])
    assert sleeps[0] == []


def test_malformed_response(fake_openai) -> None:
    fake_openai.script = [(200, {}, {"object": "list", "items": []})]
    with pytest.raises(EmbeddingError, match="not the OpenAI embeddings format"):
        make(fake_openai).embed(["x"])


def test_wrong_vector_count(fake_openai) -> None:
    one = {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]}
    fake_openai.script = [(200, {}, {"object": "list", "data": [one]})]
    with pytest.raises(EmbeddingError, match="returned 1 vectors for 2 inputs"):
        make(fake_openai).embed(["a", "b"])


def test_base64_vectors_are_decoded(fake_openai) -> None:
    import base64

    raw = np.array([3.0, 4.0], dtype="<f4").tobytes()
    item = {"object": "embedding", "index": 0, "embedding": base64.b64encode(raw).decode()}
    fake_openai.script = [(200, {}, {"object": "list", "data": [item]})]
    np.testing.assert_allclose(make(fake_openai).embed(["a"])[0], [0.6, 0.8], atol=1e-6)


def test_connection_refused_is_retried_then_reported(sleeps: Sleeps) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = OpenAIEmbeddingProvider(
        api_key=KEY,
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        max_retries=2,
        sleep=sleeps[1],
    )
    with pytest.raises(EmbeddingError, match="failed after 3 attempts: ConnectError") as info:
        p.embed(["x"])
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(sleeps[0]) == 2


def test_read_timeout_is_retried_then_reported(fake_openai, sleeps: Sleeps) -> None:
    fake_openai.hang = threading.Event()
    p = make(fake_openai, sleeps, timeout=0.2, max_retries=1)
    with pytest.raises(EmbeddingError, match="ReadTimeout"):
        p.embed(["x"])
    assert len(fake_openai.requests) == 2


def test_key_never_in_logs_or_repr(fake_openai, sleeps: Sleeps, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fake_openai.script = [
        (503, {}, {"error": {"message": f"overloaded for {KEY}"}}),
        (401, {}, {"error": {"message": f"bad key {KEY}"}}),
    ]
    p = make(fake_openai, sleeps)
    with pytest.raises(EmbeddingError) as info:
        p.embed(["x"])
    assert KEY not in caplog.text
    assert caplog.records  # the retry was logged (without the key)
    assert KEY not in str(info.value) and KEY not in repr(p)
    assert KEY not in repr(p._ensure_client().headers)


def test_persistent_client_reuses_connection(fake_openai) -> None:
    p = make(fake_openai)
    p.embed(["a"])
    p.embed(["b"])
    ports = {r["client_port"] for r in fake_openai.requests}
    assert len(ports) == 1  # both requests rode one kept-alive connection
    p.close()
    p.embed(["c"])  # a closed provider opens a new client on demand
    assert len(fake_openai.requests) == 3


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInputError) as info:
        OpenAIEmbeddingProvider(api_key=KEY, batch_size=0)
    assert info.value.field == "batch_size"
    with pytest.raises(InvalidInputError) as info:
        OpenAIEmbeddingProvider(api_key=KEY).embed("a string")
    assert info.value.field == "texts"


def test_from_config(fake_openai) -> None:
    config = MemoryConfig(
        openai_api_key=KEY,
        openai_base_url=fake_openai.url,
        embedding_model="fake-embed",
        embedding_batch_size=2,
    )
    p = OpenAIEmbeddingProvider.from_config(config)
    fake_openai.clients.append(p)
    assert p.model_id == "openai:fake-embed"
    p.embed(["a", "b", "c"])
    assert [len(r["body"]["input"]) for r in fake_openai.requests] == [2, 1]
    assert fake_openai.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"


def test_from_config_defaults_to_text_embedding_3_small() -> None:
    p = OpenAIEmbeddingProvider.from_config(MemoryConfig(openai_api_key=KEY))
    assert p.model_id == "openai:text-embedding-3-small"
    assert p.dimension == 1536


def test_from_config_without_key_for_openai_is_a_config_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        OpenAIEmbeddingProvider.from_config(MemoryConfig(embedding_provider="openai"))
    assert info.value.key == "OPENAI_API_KEY"


def test_from_config_local_server_needs_no_key(fake_openai) -> None:
    config = MemoryConfig(openai_base_url=fake_openai.url, embedding_model="nomic-embed-text")
    p = OpenAIEmbeddingProvider.from_config(config)
    assert p.dimension == 768


def test_key_file_rotation_takes_effect_without_restart(fake_openai, tmp_path) -> None:
    key_file = tmp_path / "openai-key"
    key_file.write_text("sk-first-key\n")
    p = make(fake_openai, api_key=None, api_key_file=key_file)
    p.embed(["one"])
    key_file.write_text("sk-second-key-rotated\n")
    p.embed(["two"])
    sent = [r["headers"]["Authorization"] for r in fake_openai.requests]
    assert sent == ["Bearer sk-first-key", "Bearer sk-second-key-rotated"]
