"""This device's side of the engine decision: is TensorRT here, and which engine key does this GPU need."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from deploy.plan import StartError
from engine.encoder import Precision
from engine.graph_io import Tower
from engine.spec import ModelSpec
from engine.tensorrt.profiles import TowerBatches


def tensorrt_installed() -> bool:
    """TensorRT's Python bindings are importable (checked without importing them)."""
    return importlib.util.find_spec("tensorrt") is not None


def plan_files() -> list[str]:
    """What a built key directory holds: one plan per tower and plan.json."""
    from engine.tensorrt.keys import PLAN_META

    return [f"{tower}.plan" for tower in Tower] + [PLAN_META]


def engine_key(
    bundle: Path,
    precision: Precision | str,
    max_batch: TowerBatches | int,
    trt: ModuleType | None = None,
    cuda: ModuleType | None = None,
) -> tuple[str, list[str]]:
    """The key build-engine writes for this GPU, TensorRT, precision and batches, and the files it writes."""
    from engine.tensorrt.keys import detect_device
    from engine.tensorrt.keys import engine_key as key_of

    if trt is None or cuda is None:
        from engine.tensorrt.versions import import_tensorrt

        trt, cuda = import_tensorrt()
    spec = ModelSpec.load(Path(bundle))
    try:
        device = detect_device(trt, cuda)
    except Exception as exc:  # pycuda raises its own error types when no GPU or driver is visible
        raise StartError(
            f"TensorRT is installed but no GPU is visible ({exc}): start the container with the NVIDIA "
            "runtime (compose: runtime: nvidia; docker run: --runtime nvidia)"
        ) from exc
    return key_of(device, Precision(precision), max_batch, spec.context_length), plan_files()
