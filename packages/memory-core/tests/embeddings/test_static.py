"""The bundled static model, run on numpy alone, against model2vec's own output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from memory_core import EmbeddingError, InvalidInputError, MemoryConfig
from memory_core.embeddings import StaticEmbeddingProvider
from memory_core.embeddings.static import MODELS_DIR

FIXTURES = Path(__file__).parent / "fixtures"
SENTENCES: list[str] = json.loads((FIXTURES / "sentences.json").read_text())
# Written by model2vec.StaticModel.encode (scripts/build_static_model.py --fixture-only).
EXPECTED = np.load(FIXTURES / "expected.npy")


@pytest.fixture(scope="module")
def provider() -> StaticEmbeddingProvider:
    return StaticEmbeddingProvider()


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    target = tmp_path / "my-model"
    shutil.copytree(MODELS_DIR / "minilm-m2v-256", target)
    return target


def test_matches_model2vec_batch(provider: StaticEmbeddingProvider) -> None:
    got = provider.embed(SENTENCES)
    assert got.shape == EXPECTED.shape == (len(SENTENCES), 256)
    np.testing.assert_allclose(got, EXPECTED, atol=1e-6)


def test_matches_model2vec_one_at_a_time(provider: StaticEmbeddingProvider) -> None:
    got = np.stack([provider.embed([s])[0] for s in SENTENCES])
    np.testing.assert_allclose(got, EXPECTED, atol=1e-6)


def test_identity_and_output_contract(provider: StaticEmbeddingProvider) -> None:
    assert provider.name == "local"
    assert provider.model_id == "local:minilm-m2v-256"
    assert provider.dimension == 256
    out = provider.embed(["retry the failing deploy", "write docs"])
    assert out.dtype == np.float32
    assert out.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_texts_without_known_tokens_give_zero_rows(provider: StaticEmbeddingProvider) -> None:
    out = provider.embed(["", "   ", "\U0001f600", "ok"])
    assert not out[:3].any()
    assert np.linalg.norm(out[3]) == pytest.approx(1.0, abs=1e-5)


def test_empty_batch(provider: StaticEmbeddingProvider) -> None:
    assert provider.embed([]).shape == (0, 256)


def test_paraphrase_is_closer_than_unrelated(provider: StaticEmbeddingProvider) -> None:
    query, paraphrase, unrelated = provider.embed(
        [
            "fix the failing login test",
            "repair the broken authentication unit test",
            "bake a chocolate cake for the birthday party",
        ]
    )
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.2


def test_bare_string_is_rejected(provider: StaticEmbeddingProvider) -> None:
    with pytest.raises(InvalidInputError) as info:
        provider.embed("one text")
    assert info.value.field == "texts"


def test_non_string_item_is_rejected(provider: StaticEmbeddingProvider) -> None:
    with pytest.raises(InvalidInputError) as info:
        provider.embed(["fine", 3])  # type: ignore[list-item]
    assert info.value.field == "texts[1]"


def test_construction_does_not_load_the_table(model_copy: Path) -> None:
    lazy = StaticEmbeddingProvider(model_copy)
    assert lazy.model_id == "local:my-model"
    assert lazy.dimension == 256
    (model_copy / "model.safetensors").unlink()  # only noticed when the table is needed
    with pytest.raises(EmbeddingError, match="cannot load local embedding model"):
        lazy.embed(["now it loads"])


def test_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="local embedding model not found") as info:
        StaticEmbeddingProvider(tmp_path / "nowhere")
    assert "build_static_model.py" in str(info.value)


def test_missing_file_is_named(model_copy: Path) -> None:
    (model_copy / "tokenizer.json").unlink()
    with pytest.raises(EmbeddingError, match=r"missing tokenizer\.json"):
        StaticEmbeddingProvider(model_copy)


def test_corrupt_table_is_an_embedding_error(model_copy: Path) -> None:
    (model_copy / "model.safetensors").write_bytes(b"\x00" * 64)
    broken = StaticEmbeddingProvider(model_copy)
    with pytest.raises(EmbeddingError, match="cannot load"):
        broken.warm()


def test_table_of_wrong_width_is_refused(model_copy: Path) -> None:
    config = json.loads((model_copy / "config.json").read_text())
    config["hidden_dim"] = 128
    (model_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(EmbeddingError, match="width 128"):
        StaticEmbeddingProvider(model_copy).warm()


def test_concurrent_first_use_loads_once_and_agrees(model_copy: Path) -> None:
    fresh = StaticEmbeddingProvider(model_copy)
    barrier = threading.Barrier(8)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(fresh.embed(SENTENCES[:5]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 8
    for result in results:
        np.testing.assert_allclose(result, EXPECTED[:5], atol=1e-6)


def test_close_then_embed_reloads(model_copy: Path) -> None:
    p = StaticEmbeddingProvider(model_copy)
    first = p.embed(SENTENCES[:2])
    p.close()
    np.testing.assert_array_equal(p.embed(SENTENCES[:2]), first)


def test_from_config_default_and_named() -> None:
    assert StaticEmbeddingProvider.from_config(MemoryConfig()).model_id == "local:minilm-m2v-256"
    named = MemoryConfig(embedding_model="local:minilm-m2v-256")
    assert StaticEmbeddingProvider.from_config(named).model_id == "local:minilm-m2v-256"


def test_from_config_directory(model_copy: Path) -> None:
    p = StaticEmbeddingProvider.from_config(MemoryConfig(embedding_model=str(model_copy)))
    assert p.model_id == "local:my-model"
    np.testing.assert_allclose(p.embed(SENTENCES[:3]), EXPECTED[:3], atol=1e-6)


def test_from_config_api_model_name_is_refused() -> None:
    with pytest.raises(EmbeddingError, match="EMBEDDING_MODEL='text-embedding-3-small'"):
        StaticEmbeddingProvider.from_config(MemoryConfig(embedding_model="text-embedding-3-small"))


def test_bundled_model_ships_its_notice() -> None:
    folder = MODELS_DIR / "minilm-m2v-256"
    notice = (folder / "NOTICE").read_text()
    assert "all-MiniLM-L6-v2" in notice
    assert "Apache License" in notice
    assert "model2vec" in notice and "MIT License" in notice
    assert "Apache License" in (folder / "LICENSE").read_text()


def test_runtime_needs_neither_torch_nor_model2vec() -> None:
    code = (
        "import sys\n"
        "from memory_core.embeddings import StaticEmbeddingProvider\n"
        "v = StaticEmbeddingProvider().embed(['a fresh process'])\n"
        "assert v.shape == (1, 256), v.shape\n"
        "heavy = sorted(m for m in ('torch', 'model2vec', 'transformers') if m in sys.modules)\n"
        "print(','.join(heavy) or 'clean')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "clean"


def test_word_cache_gives_the_tokenizers_ids(provider: StaticEmbeddingProvider) -> None:
    """The cached per-word path (ASCII texts) must equal the tokenizer on every text,
    including the ones it hands back to the tokenizer."""
    from memory_core.embeddings.static import _token_ids

    model = provider._ensure_loaded()
    long_word = "x" * 150  # over WordPiece's 100 characters: [UNK], dropped
    texts = [
        "read_file: read file for invoice in orders\nread_file ok: invoice updated",
        "Fix the failing rate-limit migration in payments (ticket 4242)",
        "don't e.g. 3.14 v2.0.1 foo_bar-baz/qux? (a) {b} <c> @d #e $f %g ^h &i *j +k =l |m ~n `o",
        "tabs\tand\nnewlines  and   spaces",
        "carriage\rreturn",
        "control\x01joins words",
        "a literal [UNK] and [CLS] token",
        "café naïve 東京 emoji 🎉",
        "",
        "   ",
        long_word,
        f"short {long_word} words",
        "unknownwordzzzqqq xylophonist antidisestablishmentarianism",
        " ".join(f"w{i}" for i in range(700)),  # over max_length tokens: truncated
        "UPPER Case MiXeD",
    ]
    reference = [
        [t for t in e.ids if t != model.unk_id]
        for e in model.tokenizer.encode_batch(texts, add_special_tokens=False)
    ]
    assert _token_ids(model, texts) == reference
    assert _token_ids(model, texts) == reference  # again, from the warm cache
    # the cache served the ASCII texts (it did the work, not the fallback)
    assert model.words.ids(texts[0]) == reference[0]
    assert model.words.ids("café") is None and model.words.ids("[UNK]") is None
