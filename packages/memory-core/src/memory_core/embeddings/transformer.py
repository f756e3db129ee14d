"""A real transformer embedder run on numpy: all-MiniLM-L6-v2, offline, without torch.

Why: the bundled static model averages token rows, so it cannot tell that "sign-in with
Google" and "OAuth login" mean the same; a contextual encoder can. The weights come from
an installed package registering a directory under the ``memory_core.transformer_models``
entry point (``selfmem-embeddings-minilm``: float16 safetensors + ``tokenizer.json`` +
``config.json``); nothing is downloaded. The forward pass is BERT's (embeddings, six
post-norm encoder layers with exact-erf GELU), then mean pooling over real tokens and L2
normalisation, as sentence-transformers does; ``tests/embeddings`` compares it with a
reference that Hugging Face transformers computed on torch.

Speed: the same graph runs on onnxruntime when it is installed (``_onnx``: ≈3-4 ms per
query on one core, against ≈13 ms for numpy, same vectors); numpy is the fallback. On
numpy, BLAS threads are limited to one for small batches (``threadpoolctl``): on a shared
two-core machine thread hand-offs cost more than they save at this size. Batches are cut
into groups of similar length so that padding stays small.

Int8: on onnxruntime, on a CPU with exact int8 products (``_int8.int8_supported``),
stored texts and queries both run on an int8 copy of the graph (``_int8``), in batches
(``_Loaded.batch``: each token row is quantized on its own scale, so batching does not
change a vector): ≈2.3x the texts per CPU-second of float32 batches. Cosine to the
float32 vectors, min / mean: 0.9990 / 0.9994 on 800 workload texts, 0.9941 / 0.9992 on
800 LoCoMo conversation turns (the one-scale-per-call graph before it: 0.9982 / 0.9991
and 0.9940 / 0.9987; LoCoMo dev S R@5 0.928 and T R@10 0.803 against its 0.926 and
0.793). (A static activation scale for the ``qkv``/``up``
inputs fell to cosine 0.989 on LoCoMo turns: not kept.) Its vectors are not float32's,
so they carry their own model id
(``transformer:all-minilm-l6-v2+int8``): a store embedded in float32 is migrated by
``memory storage reembed`` (and by the background catch-up when it opens), and
``EMBEDDING_MODEL=transformer:all-minilm-l6-v2`` keeps float32. With float32 documents
(``int8_documents=False``, numpy, or a CPU without VNNI), queries alone may still run on
an int8 copy built in the background (``int8_queries``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from memory_core._errors import EmbeddingError, InvalidInputError
from memory_core._plugins import entry_points_in
from memory_core.embeddings import _int8
from memory_core.embeddings._bert import _build, _encode, _Encoder
from memory_core.embeddings._input import check_texts
from memory_core.embeddings._int8 import QueryEncoder, calibrated, int8_supported
from memory_core.embeddings._onnx import OnnxEncoder, onnxruntime_available
from memory_core.embeddings._readers import model_readers, readers_available

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from memory_core._config import MemoryConfig

__all__ = [
    "DEFAULT_TRANSFORMER",
    "INT8_SUFFIX",
    "MODELS_GROUP",
    "TransformerEmbeddingProvider",
    "installed_transformer_models",
]

logger = logging.getLogger("memory_core.embeddings")

MODELS_GROUP = "memory_core.transformer_models"
DEFAULT_TRANSFORMER = "all-minilm-l6-v2"
_REQUIRED = ("model.safetensors", "tokenizer.json", "config.json")
_INSTALL_HINT = "install selfmem-embeddings-minilm (pip install 'selfmem-core[transformer]')"
_BATCH = 32
"""Texts per forward pass: bounds the (batch, heads, length, length) attention array."""
_INT8_BATCH = 8
"""Texts per forward pass of the int8 encoder. Two threads embedding workload texts at
once, as a bulk import does, CPU per text: 2.93 ms one by one, 2.30 in 4s, 2.18 in 8s,
2.29 in 16s, 2.44 in 32s (a larger batch's activations no longer stay in the core's
cache)."""
_SINGLE_THREAD_TOKENS = 2_048
"""Up to this many tokens in a call, BLAS runs on one thread (measured faster here)."""


def installed_transformer_models() -> dict[str, Path]:
    """Model name → directory, for every installed weights package (no model loaded)."""
    out: dict[str, Path] = {}
    for ep in entry_points_in(MODELS_GROUP):
        try:
            out[ep.name] = Path(ep.load()())
        except Exception:  # a broken weights package is reported as absent
            continue
    return out


class TransformerEmbeddingProvider:
    """``EmbeddingProvider`` running a BERT sentence encoder from an installed package.

    Args:
        model: an installed model name (``all-minilm-l6-v2``) or a directory holding
            ``model.safetensors``, ``tokenizer.json`` and ``config.json``.
        engine: ``onnxruntime``, ``numpy``, or ``auto`` (onnxruntime when installed).
        int8_documents: on onnxruntime and a CPU with exact int8 products, ``embed`` and
            ``embed_query`` both run the int8 encoder (model id ``...+int8``).
        int8_queries: with float32 documents on onnxruntime, ``embed_query`` runs an
            int8 copy built in the background (``_int8``: ≈3x faster, cosine ≥ 0.99 to
            the float32 vector); ``embed`` stays float32.

    Raises:
        EmbeddingError: the model is not installed or its files are incomplete.
    """

    name: ClassVar[str] = "transformer"

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_TRANSFORMER,
        *,
        engine: Literal["auto", "onnxruntime", "numpy"] = "auto",
        int8_documents: bool = True,
        int8_queries: bool = True,
    ) -> None:
        self._path, label = _resolve(model)
        if engine == "auto":
            engine = "onnxruntime" if onnxruntime_available() else "numpy"
        elif engine == "onnxruntime" and not onnxruntime_available():
            raise EmbeddingError("engine onnxruntime: onnxruntime is not installed")
        self._engine: Literal["onnxruntime", "numpy"] = engine
        missing = [f for f in _REQUIRED if not (self._path / f).is_file()]
        if missing:
            raise EmbeddingError(
                f"transformer model {label!r} is incomplete: missing {', '.join(missing)} "
                f"in {self._path}; {_INSTALL_HINT}"
            )
        try:
            self._config: dict[str, Any] = json.loads((self._path / "config.json").read_text())
            self._dimension = int(self._config["hidden_size"])
            self._max_length = int(self._config.get("max_seq_length", 256))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"cannot read {self._path / 'config.json'}: {exc}") from exc
        self._int8_documents = int8_documents and engine == "onnxruntime" and int8_supported()
        self._model_id = f"transformer:{label}{INT8_SUFFIX if self._int8_documents else ''}"
        self._int8 = int8_queries and engine == "onnxruntime" and not self._int8_documents
        self._lock = threading.Lock()
        self._encoder: _Loaded | None = None

    @classmethod
    def from_config(cls, config: MemoryConfig) -> TransformerEmbeddingProvider:
        """``EMBEDDING_MODEL`` may name an installed model or a model directory."""
        model = config.embedding_model
        if model is None:
            return cls()
        if not model.startswith("transformer:"):
            return cls(model)
        # A full model id is honoured exactly: ``...+int8`` or float32 documents.
        model = model[len("transformer:") :]
        if model.endswith(INT8_SUFFIX):
            return cls(model[: -len(INT8_SUFFIX)])
        return cls(model, int8_documents=False)

    @classmethod
    def available(cls) -> bool:
        """Whether the default model's weights are installed (``auto`` prefers it then)."""
        return readers_available() and DEFAULT_TRANSFORMER in installed_transformer_models()

    # -- EmbeddingProvider ---------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def path(self) -> Path:
        return self._path

    @property
    def parallel_batches(self) -> int:
        """Concurrent ``embed`` calls worth making for bulk work (``_bulk_embed``):
        onnxruntime leaves the GIL and runs each call on one thread, so a bulk import
        can use every core; numpy's thread limit is process-wide, so one."""
        return min(2, os.cpu_count() or 1) if self._engine == "onnxruntime" else 1

    @property
    def int8_documents(self) -> bool:
        """Whether stored texts are embedded by the int8 encoder (see the model id)."""
        return self._int8_documents

    @property
    def engine(self) -> str:
        """What runs the forward pass: ``onnxruntime`` or ``numpy``."""
        return self._engine

    def warm(self) -> None:
        query = self._ensure_loaded().query
        if query is not None:
            query.wait()

    def close(self) -> None:
        with self._lock:
            self._encoder = None

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Mean-pooled, L2-normalised sentence vectors, one row per text."""
        check_texts(texts)
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        if not texts:
            return out
        enc = self._ensure_loaded()
        encodings = (
            enc.tokenizer.encode_batch(list(texts))
            if len(texts) > 1
            else [enc.tokenizer.encode(texts[0])]
        )
        ids = [e.ids for e in encodings]
        total = sum(len(i) for i in ids)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        limit = 1 if total <= _SINGLE_THREAD_TOKENS and enc.onnx is None else None
        with _blas_threads(limit):
            for start in range(0, len(order), enc.batch):
                group = order[start : start + enc.batch]
                out[group] = enc.encode([ids[i] for i in group])
        return out

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        """One query's vector, for search: the int8 encoder when there is one (the
        vectors it is compared with stay float32), else ``embed``'s."""
        if not isinstance(text, str):
            raise InvalidInputError(
                f"text must be a string, got {type(text).__name__}", field="text"
            )
        enc = self._ensure_loaded()
        int8 = enc.query.ready if enc.query is not None else None
        if int8 is None:
            first: npt.NDArray[np.float32] = self.embed([text])[0]
            return first
        row: npt.NDArray[np.float32] = int8.encode([enc.tokenizer.encode(text).ids])[0]
        return row

    def embed_query_phrases(
        self, text: str, spans: Sequence[tuple[int, int]]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None]:
        """``embed_query(text)`` and one unit vector per phrase (character ``spans``): the
        mean of the final states of the phrase's tokens, from the query's own forward
        pass. A second pass over the phrases cost as much as the query (≈ +30% of a
        query's time on LoCoMo) and ranked no better (LoCoMo dev T R@10 .817 against
        .813, S R@5 .929 against .940). None for the phrases when fewer than two have
        tokens (truncated away) or the engine is numpy."""
        enc = self._ensure_loaded()
        session = enc.query.ready if enc.query is not None else None
        if session is None:
            session = enc.onnx
        if session is None:
            return self.embed_query(text), None
        check_texts([text])
        encoding = enc.tokenizer.encode(text)
        vector, states = session.encode_states(encoding.ids)
        offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)
        real = (np.asarray(encoding.special_tokens_mask) == 0) & (offsets[:, 1] > offsets[:, 0])
        rows = []
        for start, end in spans:
            inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
            if inside.any():
                v = states[inside].mean(axis=0)
                rows.append(v / max(float(np.linalg.norm(v)), 1e-12))
        if len(rows) < 2:
            return vector, None
        return vector, np.stack(rows).astype(np.float32)

    # -- loading -------------------------------------------------------------------------
    def _ensure_loaded(self) -> _Loaded:
        enc = self._encoder
        if enc is not None:
            return enc
        with self._lock:
            if self._encoder is None:
                key = (self._path, self._engine, self._int8, self._int8_documents)
                with _SHARED_LOCK:
                    loaded = _SHARED.get(key)
                    if loaded is None:
                        loaded = _SHARED[key] = self._load()
                self._encoder = loaded
            return self._encoder

    def _load(self) -> _Loaded:
        Tokenizer, load_file = model_readers("transformer")

        try:
            tokenizer = Tokenizer.from_file(str(self._path / "tokenizer.json"))
            raw = load_file(str(self._path / "model.safetensors"))
        except Exception as exc:  # tokenizers and safetensors raise untyped errors
            raise EmbeddingError(f"cannot load transformer model from {self._path}: {exc}") from exc
        tokenizer.no_padding()
        tokenizer.enable_truncation(self._max_length)
        try:
            encoder = _build(raw, tokenizer, self._config)
        except KeyError as exc:
            raise EmbeddingError(
                f"{self._path / 'model.safetensors'} lacks tensor {exc}; {_INSTALL_HINT}"
            ) from exc
        if self._engine == "numpy":
            return _Loaded(tokenizer, encoder, None)
        if self._int8_documents:
            session, batch = self._int8_session(encoder, tokenizer)
            return _Loaded(tokenizer, None, session, batch=batch)
        try:
            session = OnnxEncoder(encoder)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EmbeddingError(f"onnxruntime could not load {self._path}: {exc}") from exc
        query = QueryEncoder(encoder, tokenizer, session) if self._int8 else None
        return _Loaded(tokenizer, None, session, query)  # numpy weights: freed (after int8)

    def _int8_session(self, encoder: _Encoder, tokenizer: Tokenizer) -> tuple[OnnxEncoder, int]:
        """The int8 encoder for every text, checked against float32 on the calibration
        texts; if this CPU's kernels fail the check, float32 stands in for it (the model
        id stays: those vectors are what the int8 ones approximate, cosine ≥ 0.995)."""
        try:
            session, worst = calibrated(encoder, tokenizer)
            if worst >= _int8.MIN_COSINE:
                return session, _INT8_BATCH  # rows quantized one by one: batches are safe
            logger.warning(
                "int8 encoder off: cosine %.4f to float32 on this CPU (< %.2f); "
                "texts are embedded in float32",
                worst,
                _int8.MIN_COSINE,
            )
            return OnnxEncoder(encoder), _BATCH
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EmbeddingError(f"onnxruntime could not load {self._path}: {exc}") from exc


INT8_SUFFIX = "+int8"
"""Ends the model id of vectors from the int8 encoder."""

_SHARED: dict[tuple[Path, str, bool, bool], _Loaded] = {}
"""Loaded models by (directory, engine), shared by every provider of the process: the
weights are read-only, and building a session costs ≈0.5 s and ≈100 MB, which a process
opening several memories (tenant shards, tests) should pay once."""
_SHARED_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Loaded:
    """The tokenizer and one engine: numpy weights or an onnxruntime session (and its
    int8 copy for queries)."""

    tokenizer: Tokenizer
    numpy: _Encoder | None
    onnx: OnnxEncoder | None
    query: QueryEncoder | None = None
    batch: int = _BATCH
    """Texts per forward pass. The int8 graph quantizes each token's row on its own scale,
    so a text's vector is the same alone or in a batch, to float rounding (a stored text
    gets its query's vector): ``_INT8_BATCH``."""

    def encode(self, ids: list[list[int]]) -> npt.NDArray[np.float32]:
        if self.onnx is not None:
            return self.onnx.encode(ids)
        assert self.numpy is not None
        return _encode(self.numpy, ids)


def _resolve(model: str | os.PathLike[str]) -> tuple[Path, str]:
    if isinstance(model, str) and os.sep not in model and not Path(model).is_dir():
        installed = installed_transformer_models()
        if model not in installed:
            names = ", ".join(sorted(installed)) or "none"
            raise EmbeddingError(
                f"transformer model {model!r} is not installed (installed: {names}); "
                f"{_INSTALL_HINT}"
            )
        return installed[model], model
    path = Path(model).expanduser()
    if not path.is_dir():
        raise EmbeddingError(f"transformer model directory not found: {model!s}")
    return path.resolve(), path.resolve().name


class _blas_threads:
    """``threadpoolctl.threadpool_limits`` when a limit is wanted (no-op otherwise)."""

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._ctx: Any = None

    def __enter__(self) -> None:
        if self._limit is None:
            return
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        self._ctx = threadpool_limits(limits=self._limit, user_api="blas")
        self._ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
            self._ctx = None
