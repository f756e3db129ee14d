"""The transformer's forward pass as an ONNX graph, run by onnxruntime (no torch, no onnx).

Why: numpy runs each matrix product through BLAS with Python between ops; a query then
costs ≈13 ms here, most of it streaming 42 MB of float32 weights op by op. onnxruntime
pre-packs constant weights for its kernels and fuses LayerNorm/GELU, which brings one
query to ≈3-4 ms on one core with the same float32 arithmetic (vectors equal the numpy
path's to cosine 1.0, so both share one model id).

The graph is written here, at load time, from the same weights the numpy path uses: the
protobuf wire format of the few ONNX messages needed is small enough to emit directly,
which keeps the ``onnx`` package (and any build step or shipped graph file) out of the
dependencies. Only the message fields used below are encoded.

Three of onnxruntime's own kernels (``com.microsoft``) replace chains of standard ops:
``Attention`` (projection, heads, softmax; ``MultiHeadAttention`` after the int8
projection), ``BiasGelu``; they cut ≈10% of the CPU of a batch (measured against the
standard-op graph, same vectors to cosine 1.0). Its ``SkipLayerNormalization`` is left
out: slower here than the ops it replaces (``_SLOWER``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from memory_core.embeddings._bert import padded
from memory_core.embeddings._int8 import Ranges, quantized, smoothing

if TYPE_CHECKING:
    from memory_core.embeddings._bert import _Encoder

__all__ = ["OnnxEncoder", "onnxruntime_available"]

_OPSET = 17  # LayerNormalization is an ONNX op from 17 on
_IR_VERSION = 8
_FLOAT, _UINT8, _INT8, _INT32, _INT64 = 1, 2, 3, 6, 7  # TensorProto.DataType
_ATTR_FLOAT, _ATTR_INT, _ATTR_INTS = 1, 2, 7  # AttributeProto.AttributeType
_MS = "com.microsoft"


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


# -- protobuf wire format (varints and length-delimited fields) ------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1  # negative int64 values are ten-byte two's complement
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, n: int) -> bytes:
    return _key(field, 0) + _varint(n)


def _bytes(field: int, data: bytes) -> bytes:
    return _key(field, 2) + _varint(len(data)) + data


def _str(field: int, text: str) -> bytes:
    return _bytes(field, text.encode())


def _attr(name: str, value: float | int | Sequence[int]) -> bytes:
    if isinstance(value, float):
        body = _key(2, 5) + struct.pack("<f", value) + _int(20, _ATTR_FLOAT)
    elif isinstance(value, int):
        body = _int(3, value) + _int(20, _ATTR_INT)
    else:
        body = b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)
    return _str(1, name) + body


_KINDS = {
    np.dtype(np.int64): (_INT64, "<i8"),
    np.dtype(np.int8): (_INT8, "i1"),
    np.dtype(np.uint8): (_UINT8, "u1"),
}


def _tensor(name: str, array: npt.NDArray[Any]) -> bytes:
    kind, dtype = _KINDS.get(array.dtype, (_FLOAT, "<f4"))
    data = np.asarray(array, dtype=dtype)  # tobytes: C order
    dims = b"".join(_int(1, d) for d in data.shape)
    return dims + _int(2, kind) + _str(8, name) + _bytes(9, data.tobytes())


def _value_info(name: str, elem: int, dims: Iterable[int | str]) -> bytes:
    shape = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _str(2, d)) for d in dims)
    tensor_type = _int(1, elem) + _bytes(2, shape)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


class _Graph:
    """Nodes and initializers, named ``t1, t2, ...`` in creation order."""

    def __init__(self) -> None:
        self.nodes: list[bytes] = []
        self.inits: list[bytes] = []
        self._n = 0

    def const(self, array: npt.NDArray[Any] | float | Sequence[int]) -> str:
        if isinstance(array, float):
            array = np.array(array, dtype=np.float32)
        elif not isinstance(array, np.ndarray):
            array = np.array(array, dtype=np.int64)
        self._n += 1
        name = f"c{self._n}"
        self.inits.append(_tensor(name, array))
        return name

    def op(
        self, op_type: str, *inputs: str, out: str | None = None, domain: str = "", **attrs: Any
    ) -> str:
        self._n += 1
        name = out or f"t{self._n}"
        body = b"".join(_str(1, i) for i in inputs) + _str(2, name) + _str(4, op_type)
        body += b"".join(_bytes(5, _attr(k, v)) for k, v in attrs.items())
        if domain:
            body += _str(7, domain)
        self.nodes.append(body)
        return name

    def model(self, inputs: list[bytes], outputs: list[bytes]) -> bytes:
        graph = b"".join(_bytes(1, n) for n in self.nodes) + _str(2, "encoder")
        graph += b"".join(_bytes(5, t) for t in self.inits)
        graph += b"".join(_bytes(11, i) for i in inputs) + b"".join(_bytes(12, o) for o in outputs)
        opset = _bytes(8, _str(1, "") + _int(2, _OPSET))
        opset += _bytes(8, _str(1, _MS) + _int(2, 1))  # onnxruntime's contrib operators
        return _int(1, _IR_VERSION) + _bytes(7, graph) + opset


def build_model(enc: _Encoder, ranges: Ranges | None = None) -> bytes:
    """The serialized ONNX model of ``_bert._encode`` (same math, same weights);
    with ``ranges`` (``_int8.activation_ranges``), the encoder's matrix products run on
    smoothed int8 weights with activations quantized per call (see ``_int8``)."""
    g = _Graph()
    hidden = enc.words.shape[1]
    heads = enc.heads

    def norm(x: str, ln: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]) -> str:
        return g.op("LayerNormalization", x, g.const(ln[0]), g.const(ln[1]), axis=-1,
                    epsilon=enc.eps)  # fmt: skip

    def product(x: str, w: npt.NDArray[np.float32], name: str, layer: int) -> str:
        """``x @ w`` without the bias (the fused op after it adds the bias)."""
        if ranges is None:
            return g.op("MatMul", x, g.const(w))
        s = smoothing(ranges[(name, layer)], w)
        q, scale = quantized(w * s[:, None])
        x = g.op("Mul", x, g.const((1.0 / s).astype(np.float32)))
        # Each token's row quantized on its own: uint8 over the row's range
        # (``step = (max - min) / 255``, zero point ``z = round(-min / step)``; one
        # ``QuantizeLinear`` per row of the flattened input), and the product corrected for
        # the zero point, ``(xq - z) @ q = xq @ q - z * colsum(q)`` (onnxruntime's integer
        # product takes one zero point per tensor). Every token uses the whole range, and
        # a text's vector does not depend on the texts batched beside it (``_int8``).
        hi = g.op("Max", g.op("ReduceMax", x, axes=[-1], keepdims=1), g.const(0.0))
        lo = g.op("Min", g.op("ReduceMin", x, axes=[-1], keepdims=1), g.const(0.0))
        step = g.op("Max", g.op("Div", g.op("Sub", hi, lo), g.const(255.0)), g.const(1e-8))
        z = g.op("Round", g.op("Div", g.op("Neg", lo), step))
        rows = g.op("Reshape", x, g.const([-1, int(q.shape[0])]))
        xq = g.op("QuantizeLinear", rows, g.op("Reshape", step, g.const([-1])),
                  g.op("Cast", g.op("Reshape", z, g.const([-1])), to=_UINT8), axis=0)  # fmt: skip
        xq = g.op("Reshape", xq, g.op("Shape", x))
        y = g.op("MatMulIntegerToFloat", xq, g.const(q), g.const(1.0), g.const(scale),
                 g.const(np.array(0, np.uint8)), domain=_MS)  # fmt: skip
        colsum = (q.astype(np.float32).sum(axis=0) * scale).astype(np.float32)
        return g.op("Mul", g.op("Sub", y, g.op("Mul", z, g.const(colsum))), step)

    def add_norm(
        y: str, bias: npt.NDArray[np.float32], residual: str,
        ln: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
    ) -> str:  # fmt: skip
        """LayerNorm(y + bias + residual)."""
        return norm(g.op("Add", g.op("Add", y, g.const(bias)), residual), ln)

    length = g.op("Unsqueeze", g.op("Gather", g.op("Shape", "input_ids"), g.const(np.array(1))),
                  g.const([0]))  # fmt: skip
    positions = g.op("Slice", g.const(enc.positions), g.const([0]), length, g.const([0]))
    if ranges is None:
        x = g.op("Add", g.op("Gather", g.const(enc.words), "input_ids"), positions)
    else:  # the token table (47 MB in float32) as int8 rows with one scale each
        words, row_scale = quantized(np.ascontiguousarray(enc.words.T))
        rows = g.op("Cast", g.op("Gather", g.const(np.ascontiguousarray(words.T)), "input_ids"),
                    to=_FLOAT)  # fmt: skip
        x = g.op("Mul", rows, g.op("Gather", g.const(row_scale.reshape(-1, 1)), "input_ids"))
        x = g.op("Add", x, positions)
    x = norm(g.op("Add", x, g.const(enc.token_type)), enc.ln)
    # (batch, length) int32: 1 for real tokens, 0 for padding (keys never attended to)
    keys = g.op("Cast", "attention_mask", to=_INT32)
    for n, layer in enumerate(enc.layers):
        if ranges is None:  # projection, heads and softmax in one kernel
            context = g.op("Attention", x, g.const(layer.qkv), g.const(layer.qkv_bias), keys,
                           domain=_MS, num_heads=heads)  # fmt: skip
        else:  # one quantized product for the three (the input is quantized once)
            qkv = product(x, layer.qkv, "qkv", n)
            q, k, v = (g.op("Slice", qkv, g.const([i * hidden]), g.const([(i + 1) * hidden]),
                            g.const([2])) for i in range(3))  # fmt: skip
            context = g.op("MultiHeadAttention", q, k, v, g.const(layer.qkv_bias), keys,
                           domain=_MS, num_heads=heads)  # fmt: skip
        x = add_norm(product(context, layer.out, "out", n), layer.out_bias, x, layer.ln1)
        inner = g.op("BiasGelu", product(x, layer.up, "up", n), g.const(layer.up_bias),
                     domain=_MS)  # fmt: skip
        x = add_norm(product(inner, layer.down, "down", n), layer.down_bias, x, layer.ln2)
    g.op("Identity", x, out="states")  # each token's final state (a query's phrases)
    mask = g.op("Unsqueeze", "attention_mask", g.const([2]))
    total = g.op("ReduceSum", g.op("Mul", x, mask), g.const([1]), keepdims=0)
    count = g.op("Max", g.op("ReduceSum", mask, g.const([1]), keepdims=0), g.const(1.0))
    g.op("LpNormalization", g.op("Div", total, count), out="embedding", axis=-1, p=2)
    return g.model(
        [
            _value_info("input_ids", _INT64, ["batch", "length"]),
            _value_info("attention_mask", _FLOAT, ["batch", "length"]),
        ],
        [
            _value_info("embedding", _FLOAT, ["batch", hidden]),
            _value_info("states", _FLOAT, ["batch", "length", hidden]),
        ],
    )


_SLOWER = ["SkipLayerNormFusion"]
"""Graph rewrites that make this graph slower: onnxruntime's fused SkipLayerNormalization
took ≈3x the CPU of the two Adds and the LayerNormalization it replaces (1.32, x86)."""


class OnnxEncoder:
    """One onnxruntime session over the encoder graph, on one intra-op thread.

    One thread: on a shared two-core machine a query is too small to split, and the
    server's other work (and a background embedding batch) needs the other core.
    """

    def __init__(self, enc: _Encoder, ranges: Ranges | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # warnings about unused initializers are noise
        self._session = ort.InferenceSession(
            build_model(enc, ranges),
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=_SLOWER,
        )

    def encode(self, ids: list[list[int]]) -> npt.NDArray[np.float32]:
        """Sentence vectors of a group of token-id lists (padded to the longest)."""
        tokens, mask = padded(ids)
        out = self._session.run(["embedding"], {"input_ids": tokens, "attention_mask": mask})
        result: npt.NDArray[np.float32] = np.asarray(out[0], dtype=np.float32)
        return result

    def encode_states(
        self, ids: list[int]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """One text's sentence vector and its tokens' final states (length × hidden), from
        one forward pass."""
        tokens, mask = padded([ids])
        out = self._session.run(
            ["embedding", "states"], {"input_ids": tokens, "attention_mask": mask}
        )
        return np.asarray(out[0][0], dtype=np.float32), np.asarray(out[1][0], dtype=np.float32)
