"""The default, offline embedder: a model2vec static model run on numpy alone.

A static model is a table with one vector per tokenizer token; a text's vector is the mean
of its tokens' rows, L2-normalised. The bundled table (``models/minilm-m2v-256``) was
distilled from all-MiniLM-L6-v2 by ``scripts/build_static_model.py``. Running it needs
``tokenizers``, ``safetensors`` and ``numpy`` only (no torch, no model2vec, no network),
and reproduces ``model2vec.StaticModel.encode`` on the same files (tests compare against a
fixture model2vec wrote)::

    provider = StaticEmbeddingProvider()      # cheap: reads config.json only
    vectors = provider.embed(["fix the flaky login test"])   # loads on first use
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from memory_core._errors import EmbeddingError
from memory_core.embeddings._input import check_texts
from memory_core.embeddings._readers import model_readers, readers_available

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from memory_core._config import MemoryConfig

__all__ = ["BUNDLED_MODELS", "DEFAULT_MODEL", "MODELS_DIR", "StaticEmbeddingProvider"]

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = "minilm-m2v-256"
BUNDLED_MODELS = (DEFAULT_MODEL,)
_REQUIRED = ("model.safetensors", "tokenizer.json", "config.json")
# model2vec's default when config.json names no max_length.
_DEFAULT_MAX_LENGTH = 512
# model2vec adds this to the norm so an all-zero row divides cleanly (stays zero).
_NORM_EPS = 1e-32
_REBUILD_HINT = (
    "reinstall selfmem-core, or rebuild the bundled model with "
    "scripts/build_static_model.py (see its docstring)"
)


@dataclass(frozen=True)
class _Loaded:
    tokenizer: Tokenizer
    words: _WordCache
    table: npt.NDArray[Any]  # (vocab or clusters, dim), int8/float16/float32 as shipped
    weights: npt.NDArray[np.float32] | None  # per-token weights (vocabulary-quantized models)
    mapping: npt.NDArray[np.int64] | None  # token id -> table row (vocabulary-quantized models)
    unk_id: int | None
    char_limit: int | None  # model2vec cuts text to max_length * median token length first


class StaticEmbeddingProvider:
    """``EmbeddingProvider`` over a model2vec static model directory.

    Args:
        model: a bundled model name (``minilm-m2v-256``) or a directory holding
            ``model.safetensors``, ``tokenizer.json`` and ``config.json``.

    Raises:
        EmbeddingError: the model files are missing or unreadable (never a silent fallback).
    """

    name: ClassVar[str] = "local"

    def __init__(self, model: str | os.PathLike[str] = DEFAULT_MODEL) -> None:
        self._path, label = _resolve(model)
        missing = [f for f in _REQUIRED if not (self._path / f).is_file()]
        if missing:
            raise EmbeddingError(
                f"local embedding model {label!r} is incomplete: missing {', '.join(missing)} "
                f"in {self._path}; {_REBUILD_HINT}"
            )
        try:
            self._config: dict[str, Any] = json.loads((self._path / "config.json").read_text())
            self._dimension = int(self._config["hidden_dim"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(
                f"cannot read {self._path / 'config.json'}: {exc}; {_REBUILD_HINT}"
            ) from exc
        self._model_id = f"local:{label}"
        self._normalize = bool(self._config.get("normalize", True))
        max_length = self._config.get("max_length", _DEFAULT_MAX_LENGTH)
        self._max_length: int | None = None if max_length is None else int(max_length)
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    @classmethod
    def available(cls) -> bool:
        """Whether its readers are installed (``selfmem-core[local]``)."""
        return readers_available()

    @classmethod
    def from_config(cls, config: MemoryConfig) -> StaticEmbeddingProvider:
        """``EMBEDDING_MODEL`` may name a bundled model or a model2vec directory."""
        if not readers_available():
            model_readers("local")  # raises the EmbeddingError that names the extra
        model = config.embedding_model
        if model is None:
            return cls()
        if model.startswith("local:"):
            model = model[len("local:") :]
        if model in BUNDLED_MODELS or Path(model).expanduser().is_dir():
            return cls(model)
        raise EmbeddingError(
            f"EMBEDDING_MODEL={model!r} is neither a bundled local model "
            f"({', '.join(BUNDLED_MODELS)}) nor a model2vec directory; to use an API model "
            "set OPENAI_API_KEY (or MEMORY_EMBEDDING_PROVIDER=openai)"
        )

    # -- EmbeddingProvider ---------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def path(self) -> Path:
        """The model directory (for ``health_check`` and diagnostics)."""
        return self._path

    def warm(self) -> None:
        self._ensure_loaded()

    def close(self) -> None:
        """Drop the tables; a later ``embed`` loads them again."""
        with self._lock:
            self._loaded = None

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Mean of token rows, L2-normalised; a text with no known token gives a zero row."""
        check_texts(texts)
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        model = self._ensure_loaded()
        if model.char_limit is not None:
            texts = [text[: model.char_limit] for text in texts]
        ids = _token_ids(model, texts)
        out = np.zeros((len(ids), self._dimension), dtype=np.float32)
        table, mapping, weights = model.table, model.mapping, model.weights
        integer = np.issubdtype(table.dtype, np.integer)
        # One gather per text: bounded memory for any batch, and the same numbers as
        # model2vec's float64 mean (an int32 sum of int8 rows is exact, and faster).
        # (One padded gather for the whole batch measured no faster: ~7 µs against ~8.)
        for i, row in enumerate(ids):
            if not row:
                continue  # nothing known: a zero row, as model2vec gives
            if mapping is None and weights is None:
                if integer:
                    out[i] = table[row].sum(axis=0, dtype=np.int32) / len(row)
                else:
                    out[i] = table[row].mean(axis=0)
            else:
                rows = table[row if mapping is None else mapping[row]]
                if weights is not None:
                    rows = rows * weights[row][:, None]
                out[i] = rows.mean(axis=0)
        if self._normalize:
            out /= np.linalg.norm(out, axis=1, keepdims=True) + _NORM_EPS
        return out

    # -- loading -------------------------------------------------------------------------
    def _ensure_loaded(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> _Loaded:
        # Imported here: ``import memory_core`` stays fast for an MCP handshake.
        Tokenizer, load_file = model_readers("local")

        try:
            tokenizer = Tokenizer.from_file(str(self._path / "tokenizer.json"))
            tensors = load_file(str(self._path / "model.safetensors"))
        except Exception as exc:  # tokenizers and safetensors raise untyped errors
            raise EmbeddingError(
                f"cannot load local embedding model from {self._path}: {exc}; {_REBUILD_HINT}"
            ) from exc
        table = tensors.get("embeddings")
        if table is None or table.ndim != 2 or table.shape[1] != self._dimension:
            shape = None if table is None else table.shape
            raise EmbeddingError(
                f"{self._path / 'model.safetensors'} has no 'embeddings' tensor of width "
                f"{self._dimension} (found {shape}); {_REBUILD_HINT}"
            )
        mapping = tensors.get("mapping")
        weights = tensors.get("weights")
        vocab = tokenizer.get_vocab()
        rows_needed = len(vocab) if mapping is None else int(mapping.max()) + 1
        if table.shape[0] < rows_needed:
            raise EmbeddingError(
                f"model table has {table.shape[0]} rows, tokenizer needs {rows_needed}; "
                f"{_REBUILD_HINT}"
            )
        # Same tokenizer set-up as model2vec: no padding, truncation at max_length tokens.
        tokenizer.no_padding()
        if self._max_length is None:
            tokenizer.no_truncation()
            char_limit = None
        else:
            tokenizer.enable_truncation(self._max_length)
            median = int(np.median([len(token) for token in vocab]))
            char_limit = self._max_length * median
        unk = _unk_token_id(tokenizer)
        return _Loaded(
            tokenizer=tokenizer,
            words=_WordCache(tokenizer, self._max_length, unk),
            table=table,
            weights=None if weights is None else weights.astype(np.float32),
            mapping=None if mapping is None else mapping.astype(np.int64),
            unk_id=unk,
            char_limit=char_limit,
        )


def _resolve(model: str | os.PathLike[str]) -> tuple[Path, str]:
    """(directory, label) for a bundled name or a path."""
    if isinstance(model, str) and model in BUNDLED_MODELS:
        return MODELS_DIR / model, model
    path = Path(model).expanduser()
    if not path.is_dir():
        raise EmbeddingError(
            f"local embedding model not found: {model!s} is neither a bundled model "
            f"({', '.join(BUNDLED_MODELS)}) nor a directory; {_REBUILD_HINT}"
        )
    return path.resolve(), path.resolve().name


def _token_ids(model: _Loaded, texts: list[str] | Sequence[str]) -> list[list[int]]:
    """Token ids without special tokens and without [UNK], as model2vec tokenizes."""
    out: list[list[int] | None] = [model.words.ids(text) for text in texts]
    rest = [i for i, ids in enumerate(out) if ids is None]
    if rest:
        encode = getattr(model.tokenizer, "encode_batch_fast", model.tokenizer.encode_batch)
        encodings = encode([texts[i] for i in rest], add_special_tokens=False)
        unk = model.unk_id
        for i, encoding in zip(rest, encodings, strict=True):
            out[i] = [t for t in encoding.ids if t != unk]
    return [ids or [] for ids in out]


_PLAIN = re.compile(r"[^\[\x00-\x08\x0b-\x1f\x7f-\U0010ffff]*")
"""Texts the word cache may tokenize: ASCII without control characters (which BERT's
normalizer deletes, joining words) and without ``[`` (added tokens such as ``[UNK]``
are matched in the raw text)."""
_WORDS = re.compile(r"[a-z0-9]+|[^a-z0-9\s]")
"""BERT's pre-tokenizer on lowercased ASCII: runs of letters and digits, and every other
printable character (all ASCII punctuation) alone."""
_MAX_WORDS = 100_000


class _WordCache:
    """WordPiece ids per word, for texts the tokenizer would split as ``_WORDS`` does.

    Why: the tokenizer costs ~35 µs per short text (most of a static embedding), while
    WordPiece sees one pre-tokenized word at a time, so a word's ids never depend on its
    neighbours: cached, a text costs a regex and a few dict look-ups. Any other text
    (non-ASCII, control characters, a possible added token) goes to the tokenizer.
    ``tests/embeddings/test_static.py`` checks the ids equal the tokenizer's.
    """

    def __init__(self, tokenizer: Tokenizer, max_length: int | None, unk: int | None) -> None:
        self._tokenizer = tokenizer
        self._max_length = max_length
        self._unk = unk
        self._ids: dict[str, list[int]] = {}

    def ids(self, text: str) -> list[int] | None:
        """The text's ids (no special tokens, no [UNK]), or None: use the tokenizer."""
        if not _PLAIN.fullmatch(text):
            return None
        out: list[int] = []
        cache = self._ids
        for word in _WORDS.findall(text.lower()):
            got = cache.get(word)
            if got is None:
                if len(cache) >= _MAX_WORDS:
                    cache.clear()  # bounded: a pathological vocabulary starts over
                got = cache[word] = self._tokenizer.encode(word, add_special_tokens=False).ids
            out += got
        if self._max_length is not None:
            del out[self._max_length :]  # truncation counts [UNK]s, as the tokenizer's
        unk = self._unk
        return out if unk is None or unk not in out else [t for t in out if t != unk]


def _unk_token_id(tokenizer: Tokenizer) -> int | None:
    """WordPiece/BPE/WordLevel carry ``unk_token``; Unigram stores ``unk_id`` in its JSON."""
    model = tokenizer.model
    if hasattr(model, "unk_token"):
        token = model.unk_token
        return None if token is None else tokenizer.token_to_id(token)
    unk = json.loads(tokenizer.to_str())["model"].get("unk_id")
    return None if unk is None else int(unk)
