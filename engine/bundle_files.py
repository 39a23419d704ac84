"""Names of the files inside a model bundle, importable without torch."""

from __future__ import annotations

from pathlib import Path

from engine.tokenizer import VOCAB_FILE

WEIGHTS_FILE = "weights.safetensors"
TOKENIZER_DIR = "tokenizer"
IMAGE_ONNX = "image.onnx"
TEXT_ONNX = "text.onnx"
ENGINES_DIR = "engines"


def bundle_vocab(directory: Path) -> Path:
    """The tokenizer vocabulary a bundle carries."""
    return Path(directory) / TOKENIZER_DIR / VOCAB_FILE
