"""BERT's forward pass on numpy: the weights as ``_build`` lays them out, and ``_encode``.

Why its own module: ``transformer`` (the provider), ``_onnx`` (the same graph for
onnxruntime) and ``_int8`` (calibration of the int8 query copy) all build on these
weights and this math.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["Observer", "_Encoder", "_Layer", "_build", "_encode", "padded"]


@dataclass(frozen=True)
class _Layer:
    qkv: npt.NDArray[np.float32]  # (hidden, 3 * hidden), input-major
    qkv_bias: npt.NDArray[np.float32]
    out: npt.NDArray[np.float32]
    out_bias: npt.NDArray[np.float32]
    ln1: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]
    up: npt.NDArray[np.float32]
    up_bias: npt.NDArray[np.float32]
    down: npt.NDArray[np.float32]
    down_bias: npt.NDArray[np.float32]
    ln2: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]


@dataclass(frozen=True)
class _Encoder:
    tokenizer: Tokenizer
    words: npt.NDArray[np.float32]
    positions: npt.NDArray[np.float32]
    token_type: npt.NDArray[np.float32]
    ln: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]
    layers: tuple[_Layer, ...]
    heads: int
    eps: float


def _f32(raw: dict[str, npt.NDArray[Any]], name: str) -> npt.NDArray[np.float32]:
    return np.ascontiguousarray(raw[name], dtype=np.float32)


def _build(
    raw: dict[str, npt.NDArray[Any]], tokenizer: Tokenizer, config: dict[str, Any]
) -> _Encoder:
    """Float32 weights laid out for ``x @ W`` (torch stores ``(out, in)``)."""

    def linear(prefix: str) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        return np.ascontiguousarray(_f32(raw, f"{prefix}.weight").T), _f32(raw, f"{prefix}.bias")

    def norm(prefix: str) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        return _f32(raw, f"{prefix}.weight"), _f32(raw, f"{prefix}.bias")

    layers = []
    for n in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{n}"
        q, k, v = (linear(f"{p}.attention.self.{x}") for x in ("query", "key", "value"))
        out, out_b = linear(f"{p}.attention.output.dense")
        up, up_b = linear(f"{p}.intermediate.dense")
        down, down_b = linear(f"{p}.output.dense")
        layers.append(
            _Layer(
                qkv=np.ascontiguousarray(np.concatenate([q[0], k[0], v[0]], axis=1)),
                qkv_bias=np.concatenate([q[1], k[1], v[1]]),
                out=out,
                out_bias=out_b,
                ln1=norm(f"{p}.attention.output.LayerNorm"),
                up=up,
                up_bias=up_b,
                down=down,
                down_bias=down_b,
                ln2=norm(f"{p}.output.LayerNorm"),
            )
        )
    return _Encoder(
        tokenizer=tokenizer,
        words=_f32(raw, "embeddings.word_embeddings.weight"),
        positions=_f32(raw, "embeddings.position_embeddings.weight"),
        token_type=_f32(raw, "embeddings.token_type_embeddings.weight")[0],
        ln=norm("embeddings.LayerNorm"),
        layers=tuple(layers),
        heads=int(config["num_attention_heads"]),
        eps=float(config.get("layer_norm_eps", 1e-12)),
    )


def _layer_norm(
    x: npt.NDArray[np.float32],
    ln: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
    eps: float,
) -> npt.NDArray[np.float32]:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    out: npt.NDArray[np.float32] = centred / np.sqrt(var + eps) * ln[0] + ln[1]
    return out


_SOFTMAX_FLOOR = np.float32(-80.0)
"""exp(-80) ≈ 1.8e-35 is still a normal float32 and negligible against exp(0) = 1."""
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _gelu(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """BERT's exact GELU, ``x·Φ(x)``, with erf from Abramowitz-Stegun 7.1.26 (error
    < 1.5e-7; numpy has no erf and scipy is not a dependency)."""
    # Clipped: erf(6) is 1 in float32, and exp(-z²) past that would produce subnormal
    # floats, whose arithmetic is ~100x slower on x86 (it made a query take 40 ms, not 8).
    z = np.minimum(np.abs(x) * np.float32(1.0 / math.sqrt(2.0)), np.float32(6.0))
    t = 1.0 / (1.0 + _ERF_P * z)
    a1, a2, a3, a4, a5 = _ERF_A
    poly = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))))
    erf = 1.0 - poly * np.exp(-z * z)
    out: npt.NDArray[np.float32] = 0.5 * x * (1.0 + np.sign(x) * erf)
    return out


Observer = Callable[[str, int, npt.NDArray[np.float32]], None]
"""Called with (linear name, layer, the linear's input rows of real tokens)."""


def padded(ids: list[list[int]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Token ids padded to the longest list, and the mask of the real tokens: the inputs
    of both engines (numpy here, onnxruntime in ``_onnx``)."""
    batch, length = len(ids), max(len(i) for i in ids)
    tokens = np.zeros((batch, length), dtype=np.int64)
    mask = np.zeros((batch, length), dtype=np.float32)
    for row, seq in enumerate(ids):
        tokens[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1.0
    return tokens, mask


def _encode(
    enc: _Encoder, ids: list[list[int]], observe: Observer | None = None
) -> npt.NDArray[np.float32]:
    """Sentence vectors of a group of token-id lists (padded to the longest); ``observe``
    sees the input of every linear layer (``_int8`` calibrates its scales from them)."""
    tokens, mask = padded(ids)
    batch, length = tokens.shape
    hidden = enc.words.shape[1]
    heads, head = enc.heads, hidden // enc.heads
    x = enc.words[tokens] + enc.positions[:length] + enc.token_type
    x = _layer_norm(x, enc.ln, enc.eps).reshape(batch * length, hidden)
    bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
    scale = np.float32(1.0 / math.sqrt(head))
    real = mask.reshape(-1) > 0
    for n, layer in enumerate(enc.layers):
        if observe is not None:
            observe("qkv", n, x[real])
        qkv = (x @ layer.qkv + layer.qkv_bias).reshape(batch, length, 3, heads, head)
        q = qkv[:, :, 0].transpose(0, 2, 1, 3)
        k = qkv[:, :, 1].transpose(0, 2, 3, 1)
        v = qkv[:, :, 2].transpose(0, 2, 1, 3)
        scores = (q @ k) * scale + bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.maximum(scores, _SOFTMAX_FLOOR, out=scores)  # no subnormal exp (see _gelu)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, hidden)
        x = _layer_norm(context @ layer.out + layer.out_bias + x, layer.ln1, enc.eps)
        inner = _gelu(x @ layer.up + layer.up_bias)
        if observe is not None:
            observe("out", n, context[real])
            observe("up", n, x[real])
            observe("down", n, inner[real])
        x = _layer_norm(inner @ layer.down + layer.down_bias + x, layer.ln2, enc.eps)
    states = x.reshape(batch, length, hidden)
    pooled = (states * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)[:, None]
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    result: npt.NDArray[np.float32] = pooled.astype(np.float32)
    return result
