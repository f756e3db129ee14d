"""The numpy transformer embedder against Hugging Face transformers on torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from memory_core import EmbeddingError, InvalidInputError, MemoryConfig
from memory_core.embeddings import provider_from_config
from memory_core.embeddings.transformer import (
    DEFAULT_TRANSFORMER,
    TransformerEmbeddingProvider,
    installed_transformer_models,
)

FIXTURES = Path(__file__).parent / "fixtures" / "transformer"
SENTENCES: list[str] = json.loads((FIXTURES / "sentences.json").read_text())
# Written by fixtures/transformer/make_reference.py (torch 2.13.0 CPU + transformers).
EXPECTED = np.load(FIXTURES / "expected.npy")


@pytest.fixture(scope="module")
def provider() -> TransformerEmbeddingProvider:
    """Float32 documents: the vectors the torch reference is compared with."""
    return TransformerEmbeddingProvider(int8_documents=False)


@pytest.fixture(scope="module")
def default() -> TransformerEmbeddingProvider:
    """What a user gets: int8 documents and queries on this CPU (VNNI)."""
    provider = TransformerEmbeddingProvider()
    assert provider.int8_documents, "this machine's CPU has VNNI: the int8 path is tested"
    return provider


def test_weights_come_from_an_installed_package() -> None:
    path = installed_transformer_models()[DEFAULT_TRANSFORMER]
    assert "site-packages" in str(path) or "memory-embeddings-minilm" in str(path)
    assert (path / "model.safetensors").is_file()


def test_batch_matches_torch_reference(provider: TransformerEmbeddingProvider) -> None:
    got = provider.embed(SENTENCES)
    assert got.shape == EXPECTED.shape == (len(SENTENCES), 384)
    cosine = (got * EXPECTED).sum(axis=1)
    assert cosine.min() >= 0.999, cosine


def test_both_engines_match_the_reference() -> None:
    """onnxruntime (the default when installed) and numpy give the same vectors, so they
    share one model id and a store embedded by one is searched by the other."""
    engines = {
        e: TransformerEmbeddingProvider(engine=e, int8_documents=False)
        for e in ("onnxruntime", "numpy")
    }
    assert TransformerEmbeddingProvider().engine == "onnxruntime"
    vectors = {e: p.embed(SENTENCES) for e, p in engines.items()}
    for got in vectors.values():
        assert ((got * EXPECTED).sum(axis=1)).min() >= 0.999
    assert ((vectors["onnxruntime"] * vectors["numpy"]).sum(axis=1)).min() >= 0.9999
    assert len({p.model_id for p in engines.values()}) == 1


def test_one_at_a_time_matches_the_batch(
    provider: TransformerEmbeddingProvider, default: TransformerEmbeddingProvider
) -> None:
    for p in (provider, default):
        batch = p.embed(SENTENCES)
        single = np.vstack([p.embed([s]) for s in SENTENCES])
        assert ((batch * single).sum(axis=1)).min() >= 0.99999


def test_int8_documents_by_default(
    provider: TransformerEmbeddingProvider, default: TransformerEmbeddingProvider
) -> None:
    """Stored texts and queries share the int8 encoder: its own model id (so a float32
    store is re-embedded), a text's vector independent of the texts beside it and equal
    to its query's (to float rounding: a batch pads its texts to the longest, which
    changes the order of some float sums), and close to float32 and to the torch
    reference."""
    assert default.model_id == "transformer:all-minilm-l6-v2+int8" != provider.model_id
    stored = default.embed(SENTENCES)
    alone = np.vstack([default.embed_query(s) for s in SENTENCES])
    assert np.abs(stored - alone).max() <= 1e-6
    beside = default.embed([SENTENCES[3], "unrelated", "x " * 200])[0]
    assert np.abs(stored[3] - beside).max() <= 1e-6
    assert np.allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-5)
    assert ((stored * provider.embed(SENTENCES)).sum(axis=1)).min() >= 0.995
    assert ((stored * EXPECTED).sum(axis=1)).min() >= 0.995


def test_a_full_model_id_in_the_config_is_honoured() -> None:
    """``EMBEDDING_MODEL`` set to a model id (as ``memory config`` shows it) selects that
    document encoder, so a float32 store can be kept float32."""
    for model_id in ("transformer:all-minilm-l6-v2", "transformer:all-minilm-l6-v2+int8"):
        config = MemoryConfig(embedding_provider="transformer", embedding_model=model_id)
        assert TransformerEmbeddingProvider.from_config(config).model_id == model_id
    config = MemoryConfig(embedding_provider="transformer", embedding_model="all-minilm-l6-v2")
    assert TransformerEmbeddingProvider.from_config(config).int8_documents


def test_int8_documents_fall_back_to_float32_when_not_close_enough(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    provider: TransformerEmbeddingProvider,
) -> None:
    """A CPU whose int8 kernels fail the check against float32 embeds in float32 (the
    vectors the int8 ones approximate), and says so."""
    from memory_core.embeddings import _int8, transformer

    monkeypatch.setattr(_int8, "MIN_COSINE", 1.001)  # no vector can pass
    monkeypatch.setattr(transformer, "_SHARED", {})  # a fresh load, not the shared one
    with caplog.at_level("WARNING", logger="memory_core.embeddings"):
        fallback = TransformerEmbeddingProvider()
        got = fallback.embed(SENTENCES)
    assert "int8 encoder off" in caplog.text
    assert ((got * provider.embed(SENTENCES)).sum(axis=1)).min() >= 0.99999


def test_int8_needs_vnni_on_x86(monkeypatch: pytest.MonkeyPatch) -> None:
    from memory_core.embeddings import _int8

    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    if _int8.platform.machine() == "x86_64":
        assert _int8.int8_supported() == ("avx512_vnni" in flags or "avx_vnni" in flags)
    monkeypatch.setattr(_int8.platform, "machine", lambda: "aarch64")
    _int8.int8_supported.cache_clear()  # decided once per process
    try:
        assert _int8.int8_supported()
    finally:
        _int8.int8_supported.cache_clear()


def test_queries_run_on_int8_close_to_the_float32_vectors() -> None:
    """After ``warm`` a query runs on the int8 copy (``_int8``): not the float32 vector,
    but within cosine 0.99 of it and of the torch reference; stored texts (``embed``)
    stay float32."""
    provider = TransformerEmbeddingProvider(int8_documents=False)
    provider.warm()
    query = np.vstack([provider.embed_query(s) for s in SENTENCES])
    stored = provider.embed(SENTENCES)
    assert np.allclose(np.linalg.norm(query, axis=1), 1.0, atol=1e-5)
    assert not np.array_equal(query, stored)
    assert ((query * stored).sum(axis=1)).min() >= 0.99
    assert ((query * EXPECTED).sum(axis=1)).min() >= 0.99
    assert ((stored * EXPECTED).sum(axis=1)).min() >= 0.999


def test_without_int8_a_query_is_embedded_like_a_stored_text() -> None:
    for provider in (
        TransformerEmbeddingProvider(int8_queries=False),
        TransformerEmbeddingProvider(engine="numpy"),
    ):
        provider.warm()
        for s in SENTENCES[:3]:
            assert np.array_equal(provider.embed_query(s), provider.embed([s])[0])
    with pytest.raises(InvalidInputError, match="text must be a string"):
        TransformerEmbeddingProvider().embed_query(["a list"])  # type: ignore[arg-type]


def test_int8_copy_is_refused_when_not_close_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built, the int8 copy is checked against float32 on the calibration texts and kept
    only if close enough (a CPU whose int8 kernels saturate would fail it)."""
    from memory_core.embeddings import _int8
    from memory_core.embeddings._onnx import OnnxEncoder

    loaded = TransformerEmbeddingProvider(engine="numpy")._ensure_loaded()
    assert loaded.numpy is not None
    reference = OnnxEncoder(loaded.numpy)
    assert _int8.QueryEncoder(loaded.numpy, loaded.tokenizer, reference).wait() is not None
    monkeypatch.setattr(_int8, "MIN_COSINE", 1.001)  # no vector can pass
    refused = _int8.QueryEncoder(loaded.numpy, loaded.tokenizer, reference)
    assert refused.wait() is None and refused.ready is None


def test_exit_cancels_an_int8_build_and_waits_for_it() -> None:
    """The exit hook leaves no build inside onnxruntime: a daemon thread there when the
    interpreter finalizes aborts the process (exit -6, seen in CI)."""
    from memory_core.embeddings import _int8
    from memory_core.embeddings._onnx import OnnxEncoder

    loaded = TransformerEmbeddingProvider(engine="numpy")._ensure_loaded()
    assert loaded.numpy is not None
    building = _int8.QueryEncoder(loaded.numpy, loaded.tokenizer, OnnxEncoder(loaded.numpy))
    assert building in set(_int8._building)
    _int8._stop_builds()  # what atexit runs
    assert not building._thread.is_alive() and building._done.is_set()


def test_paraphrase_is_closer_than_an_unrelated_text(
    provider: TransformerEmbeddingProvider,
) -> None:
    login, oauth, cake = provider.embed(
        [
            "log in with a Google account through OAuth",
            "sign-in with Google using a third-party identity provider",
            "bake a chocolate cake for my grandmother's birthday",
        ]
    )
    assert float(login @ oauth) > float(login @ cake) + 0.3


def test_bad_input(provider: TransformerEmbeddingProvider) -> None:
    with pytest.raises(InvalidInputError, match="texts"):
        provider.embed("a string")
    assert provider.embed([]).shape == (0, 384)


def test_unknown_model_names_what_is_installed() -> None:
    with pytest.raises(EmbeddingError, match=r"not installed \(installed: all-minilm-l6-v2\)"):
        TransformerEmbeddingProvider("no-such-model")


def test_incomplete_directory(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(EmbeddingError, match=r"missing model\.safetensors, tokenizer\.json"):
        TransformerEmbeddingProvider(tmp_path)


def test_selected_by_name_from_the_config() -> None:
    provider = provider_from_config(MemoryConfig(embedding_provider="transformer"))
    assert isinstance(provider, TransformerEmbeddingProvider)
    assert provider.model_id == "transformer:all-minilm-l6-v2+int8"


def test_no_torch_and_no_network_at_run_time() -> None:
    """A fresh interpreter embeds with sockets disabled and never imports torch."""
    code = (
        "import socket, sys\n"
        "def no(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = no\n"
        "from memory_core.embeddings.transformer import TransformerEmbeddingProvider\n"
        "v = TransformerEmbeddingProvider().embed(['hello world'])\n"
        "assert v.shape == (1, 384)\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_bulk_import_split_across_threads_matches_one_call(
    provider: TransformerEmbeddingProvider,
) -> None:
    """A bulk import splits a large batch across ``parallel_batches`` threads; the rows
    come back in order and equal one ``embed`` call's."""
    from memory_core._bulk_embed import _SPLIT_TEXTS, BatchEmbedder

    assert provider.parallel_batches >= 1
    assert TransformerEmbeddingProvider(engine="numpy").parallel_batches == 1
    texts = [f"{s} ({i})" for i in range(2 * _SPLIT_TEXTS // len(SENTENCES) + 1)
             for s in SENTENCES]  # fmt: skip
    split = BatchEmbedder._embed(provider, texts)
    whole = provider.embed(texts)
    assert split.shape == whole.shape
    assert ((split * whole).sum(axis=1)).min() >= 0.99999


def test_query_phrases_come_from_the_querys_own_pass(
    default: TransformerEmbeddingProvider,
) -> None:
    from memory_core._phrases import phrase_spans

    text = "fix the memory leak in the login page of the mobile app"
    spans = phrase_spans(text)
    vector, rows = default.embed_query_phrases(text, spans)
    np.testing.assert_allclose(vector, default.embed_query(text), atol=1e-5)
    assert rows is not None and rows.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    leak, login, phone = default.embed(["growing heap", "sign-in screen", "phone app"])
    # each phrase's row stands for its own words: closest to the text that rewords them
    assert int(np.argmax(rows @ leak)) == 1
    assert int(np.argmax(rows @ login)) == 2
    assert int(np.argmax(rows @ phone)) == 3
    one = "memory"
    assert default.embed_query_phrases(one, phrase_spans(one))[1] is None


def test_the_numpy_engine_gives_no_query_phrases() -> None:
    numpy = TransformerEmbeddingProvider(engine="numpy")
    vector, rows = numpy.embed_query_phrases("memory leak in the login page", [(0, 11), (19, 29)])
    np.testing.assert_allclose(vector, numpy.embed_query("memory leak in the login page"))
    assert rows is None
