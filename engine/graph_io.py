"""Names shared by the exported tower graphs and every runtime that runs them; importable without torch."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from engine.bundle_files import IMAGE_ONNX, TEXT_ONNX

OUTPUT_NAME = "embedding"  # float32 [B, D], L2-normalised, for both towers


class Tower(StrEnum):
    """The two encoders of a CLIP model, each exported to its own ONNX file."""

    IMAGE = "image"
    TEXT = "text"


INPUT_NAMES = {Tower.IMAGE: "pixels", Tower.TEXT: "ids"}  # float32 [B, 3, H, W] and int64 [B, L]
ONNX_FILES = {Tower.IMAGE: IMAGE_ONNX, Tower.TEXT: TEXT_ONNX}


def onnx_path(bundle: Path, tower: Tower, int8: bool = False) -> Path:
    """A tower's graph in a bundle: `image.onnx`, or its ONNX Runtime INT8 twin `image.int8.onnx`."""
    name = ONNX_FILES[Tower(tower)]
    return Path(bundle) / (name.replace(".onnx", ".int8.onnx") if int8 else name)
