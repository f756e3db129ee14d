"""all-MiniLM-L6-v2 weights, found by memory-core through the
``memory_core.transformer_models`` entry point (no import of this package is needed)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["MODEL_DIR", "model_dir"]

MODEL_DIR = Path(__file__).resolve().parent / "model"


def model_dir() -> Path:
    """The directory holding ``model.safetensors``, ``tokenizer.json`` and ``config.json``."""
    return MODEL_DIR
