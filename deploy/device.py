"""This device's side of the engine decision: is TensorRT here, and which engine key does it need."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from deploy.plan import StartError


def tensorrt_installed() -> bool:
    """TensorRT's Python bindings are importable (checked without importing them)."""
    return importlib.util.find_spec("tensorrt") is not None


def engine_key(bundle: Path, precision: str, max_batch: int) -> tuple[str, list[str]]:
    """The engine key for this GPU and TensorRT, and the plan files a built key directory holds."""
    raise StartError("engine/tensorrt does not provide an engine key yet; serve with backend onnxruntime")
