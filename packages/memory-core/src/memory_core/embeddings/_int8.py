"""Int8 weights for the query encoder: per-column scales, outliers smoothed first.

Why: a query is embedded while the caller waits, and on float32 most of its ≈5 ms goes to
streaming the encoder's 42 MB of weights through the core; int8 weights are a quarter of
that and run on the CPU's integer dot products (onnxruntime's ``MatMulIntegerToFloat``),
≈1.5 ms here. The activations are quantized per token: each row of a linear's input
gets its own uint8 range and zero point (``_onnx.build_model``), so every token uses the
whole range (BERT's [CLS] and [SEP] rows are much larger than the others) and a text's
vector does not depend on the texts batched with it (one scale per call made it depend
on its neighbours, cosine 0.997, so a bulk import ran one text per call). Within a row, a
few large channels would still take the range and flatten the rest: each linear's input
channel ``j`` is divided by ``s_j = a_j^α / w_j^(1-α)`` (``a_j``: its largest value on
the calibration texts below, ``w_j``: the largest weight it multiplies) and the weight
row multiplied by it, an exact rescaling that spreads the range between the two sides
(SmoothQuant, Xiao et al. 2022, with its usual α = 0.5). The token table is int8 too
(one scale per token): the copy then adds ≈50 MB to the process, not ≈115 MB. Cosine to
the float32 vectors, min / mean: 800 workload texts 0.9990 / 0.9994, the test sentences
0.9979 / 0.9992 (one scale per call and one text per call, as before: 0.9982 / 0.9991
and 0.9962 / 0.9986), at ≈2.3x less CPU than float32 batches.

With int8 documents (``transformer``: the default on a CPU with VNNI) it embeds stored
texts and queries, under its own model id. With float32 documents only queries use it
(``QueryEncoder``), built in a background thread once the float32 session is loaded
(calibrating and building cost about as much as that load, which a one-shot command
should not wait for); ``warm()`` waits for it, and until it is ready queries use float32. At exit a
build still running is cancelled at its next step and joined: a daemon thread inside
onnxruntime when the interpreter finalizes aborts the process ("terminate called without
an active exception", exit -6), one short-lived command in six here.

The calibration texts are generic ones written here (agent tasks, commands, errors and
conversation), not benchmark data; the scales are computed at load from the installed
weights, so nothing extra ships or is downloaded.
"""

from __future__ import annotations

import atexit
import functools
import logging
import platform
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from memory_core.embeddings._bert import _encode, _Encoder

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from memory_core.embeddings._onnx import OnnxEncoder

__all__ = [
    "ALPHA",
    "CALIBRATION",
    "QueryEncoder",
    "Ranges",
    "activation_ranges",
    "calibrated",
    "int8_supported",
    "smoothing",
]

logger = logging.getLogger("memory_core.embeddings")

ALPHA = 0.5
"""Share of the range moved into the weights (SmoothQuant's default)."""

MIN_COSINE = 0.99
"""The int8 copy is used only if every calibration text's vector is this close to its
float32 vector (checked once built: some CPUs' int8 kernels saturate, e.g. x86 with AVX2
but without VNNI, where onnxruntime's u8s8 products can overflow 16 bits)."""

Ranges = dict[tuple[str, int], npt.NDArray[np.float32]]
"""(linear name, layer) -> largest absolute value of each input channel."""

CALIBRATION = (
    "fix the flaky login test that times out on CI",
    "add retry with exponential backoff to the HTTP client",
    "Refactor the payment service to use dependency injection",
    "the build fails with ModuleNotFoundError: No module named 'yaml'",
    "TypeError: cannot read properties of undefined (reading 'map')",
    "git rebase -i HEAD~3 and squash the fixup commits",
    "pytest -q tests/test_api.py::test_create_user -x",
    "docker compose up --build fails: port 5432 is already allocated",
    "migrate the users table to add a nullable email_verified column",
    "why is the dashboard slow when more than 1,000 rows are shown?",
    "Upgrade React from 17 to 18 and fix the deprecated lifecycle methods",
    "write a bash script that rotates the nginx logs every night",
    "kubectl get pods -n staging shows CrashLoopBackOff for the worker",
    "the OAuth callback returns 400 invalid_grant after the token expires",
    "Add pagination to GET /api/v2/orders with cursor and limit parameters",
    "ran the test suite: 412 passed, 3 skipped in 38.2s",
    "Segmentation fault (core dumped) when the parser reads an empty file",
    "cargo build --release: error[E0502]: cannot borrow as mutable",
    "set up a GitHub Actions workflow that lints and tests on every push",
    "the CSV export drops rows whose description contains a newline",
    "Hey, how was your weekend? Did you go hiking with your sister?",
    "I finally finished painting the kitchen, it took three days!",
    "We're thinking about adopting a dog from the shelter next month.",
    "She said the conference in Berlin was the best one she has been to.",
    "Can you remind me what we decided about the budget for the trip?",
    "My grandmother's recipe for apple pie uses cinnamon and a little lemon.",
    "The meeting moved to Thursday at 3 pm because of the holiday.",
    "Thanks for the book recommendation, I loved the ending.",
    "summarise the incident: database failover at 02:14 UTC, 7 minutes of errors",
    "Config: MAX_WORKERS=8, TIMEOUT_MS=2500, region eu-west-1",
    "löschen Sie die temporären Dateien nach dem Import",
    "def parse(line: str) -> dict[str, int]: return json.loads(line)",
)


@functools.cache
def int8_supported() -> bool:
    """Whether this CPU's int8 products are exact in onnxruntime: on x86, only with VNNI
    (``avx512_vnni`` or ``avx_vnni``; without it u8s8 products can saturate 16 bits).
    Decided from the CPU flags, before any model is loaded, because it decides the model
    id of stored vectors. Other architectures (arm64: ``sdot``) are taken as supported;
    the built encoder is checked against float32 either way (``calibrated``)."""
    if platform.machine().lower() not in {"x86_64", "amd64", "i386", "i686", "x86"}:
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:  # macOS, Windows: no cheap flag read here; float32 is the safe choice
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def calibrated(enc: _Encoder, tokenizer: Tokenizer) -> tuple[OnnxEncoder, float]:
    """The int8 session, built now, and its worst cosine to the float32 (numpy) vectors of
    ``CALIBRATION``; the caller keeps it only at ``MIN_COSINE`` or above."""
    from memory_core.embeddings._onnx import OnnxEncoder

    ids = [e.ids for e in tokenizer.encode_batch(list(CALIBRATION))]
    reference = _encode(enc, ids)
    int8 = OnnxEncoder(enc, activation_ranges(enc, tokenizer))
    got = np.vstack([int8.encode([i]) for i in ids])
    return int8, float((got * reference).sum(axis=1).min())


def activation_ranges(enc: _Encoder, tokenizer: Tokenizer) -> Ranges:
    """Every linear's largest input per channel, over ``CALIBRATION`` (numpy forward)."""
    out: Ranges = {}

    def observe(name: str, layer: int, x: npt.NDArray[np.float32]) -> None:
        top = np.abs(x).max(axis=0)
        known = out.get((name, layer))
        out[(name, layer)] = top if known is None else np.maximum(known, top)

    ids = [e.ids for e in tokenizer.encode_batch(list(CALIBRATION))]
    _encode(enc, ids, observe)
    return out


def smoothing(
    ranges: npt.NDArray[np.float32], weight: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """``s`` per input channel: the linear's input is divided by it, ``weight`` (in, out)
    rows multiplied by it (see the module docstring)."""
    a = np.maximum(ranges, 1e-5)
    w = np.maximum(np.abs(weight).max(axis=1), 1e-5)
    s: npt.NDArray[np.float32] = (a**ALPHA / w ** (1.0 - ALPHA)).astype(np.float32)
    return s


def quantized(w: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """``w`` (in, out) as int8 with one symmetric scale per output column."""
    scale = np.abs(w).max(axis=0) / np.float32(127.0)
    scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


_building: weakref.WeakSet[QueryEncoder] = weakref.WeakSet()


@atexit.register
def _stop_builds() -> None:
    """Cancel the builds still running and wait for them (see the module docstring)."""
    for encoder in list(_building):
        encoder.cancel()


class _Cancelled(Exception):
    pass


class QueryEncoder:
    """The int8 copy of an encoder, built once in a background thread (see above)."""

    def __init__(self, enc: _Encoder, tokenizer: Tokenizer, reference: OnnxEncoder) -> None:
        self._source: tuple[_Encoder, Tokenizer, OnnxEncoder] | None = (enc, tokenizer, reference)
        self._ready: OnnxEncoder | None = None
        self._done = threading.Event()
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._build, name="int8-encoder", daemon=True)
        _building.add(self)
        self._thread.start()

    def cancel(self) -> None:
        """Stop the build at its next step and wait for it to leave onnxruntime."""
        self._cancelled.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _step(self) -> None:
        if self._cancelled.is_set():
            raise _Cancelled

    @property
    def ready(self) -> OnnxEncoder | None:
        """The int8 session once built (None until then, or if it failed)."""
        return self._ready

    def wait(self, timeout: float | None = None) -> OnnxEncoder | None:
        self._done.wait(timeout)
        return self._ready

    def _build(self) -> None:
        from memory_core.embeddings._onnx import OnnxEncoder

        try:
            assert self._source is not None
            enc, tokenizer, reference = self._source
            ranges = activation_ranges(enc, tokenizer)
            self._step()
            int8 = OnnxEncoder(enc, ranges)
            worst = 1.0
            for e in tokenizer.encode_batch(list(CALIBRATION)):
                self._step()
                worst = min(worst, float(int8.encode([e.ids])[0] @ reference.encode([e.ids])[0]))
            if worst >= MIN_COSINE:
                self._ready = int8
            else:
                logger.warning(
                    "int8 query encoder off: cosine %.4f to float32 on this CPU (< %.2f)",
                    worst,
                    MIN_COSINE,
                )
        except _Cancelled:
            pass
        except Exception:  # onnxruntime raises untyped errors; float32 queries still work
            logger.warning("int8 query encoder unavailable; queries use float32", exc_info=True)
        finally:
            self._source = None  # the numpy weights are freed
            self._done.set()
