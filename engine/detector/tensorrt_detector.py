"""The detector on a TensorRT plan built on this device (engine/tensorrt: the towers' keys and runtime).

Written for the TensorRT 8.6 and 10.x Python APIs; exercised here against a fake tensorrt module only,
never on a real GPU. A plan built for another TensorRT version, GPU or graph is never loaded.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from engine.backends.tensorrt_backend import device_index
from engine.bundle_files import ENGINES_DIR
from engine.detector.detector import Detector
from engine.detector.layout import Signature
from engine.detector.spec import DetectorSpec
from engine.encoder import Backend, Precision
from engine.tensorrt.keys import PlanMeta, choose_plan, detect_device, list_plans, mismatch
from engine.tensorrt.runtime import PlanRunner, primary_context
from engine.tensorrt.versions import import_tensorrt

DETECTOR_PLAN = "detector.plan"


def plan_signature(runner: PlanRunner) -> Signature:
    """The plan's input as its profile allows (batch static when min == max) and its output shape."""
    low, high = runner.profile.min, runner.profile.max
    shape = tuple(a if a == b else None for a, b in zip(low, high, strict=True))
    out = tuple(d if d >= 0 else None for d in runner.output.max_shape)
    return Signature(runner.input.name, shape, ((runner.output.name, (None, *out[1:])),))


class TensorRTDetector(Detector):
    """detector.plan with its own CUDA stream and buffers; calls are serialised by a lock."""

    backend = Backend.TENSORRT

    def __init__(
        self, spec: DetectorSpec, meta: PlanMeta, trt: ModuleType, cuda: ModuleType, index: int, batch: int
    ) -> None:
        if meta.directory is None:
            raise ValueError("plan metadata without its directory")
        self.meta, self.precision = meta, meta.precision
        self.device = f"cuda:{index} ({meta.gpu_name})"
        self._lock, self._cuda = threading.Lock(), cuda
        plan = (meta.directory / DETECTOR_PLAN).read_bytes()
        with primary_context(cuda, index) as context:
            self._context = context
            self.runner = PlanRunner(trt, cuda, plan, f"{meta.key}/{DETECTOR_PLAN}")
        where = str(meta.directory / DETECTOR_PLAN)
        super().__init__(spec, min(batch, self.runner.profile.max[0]), plan_signature(self.runner), where)

    def _run(self, x: np.ndarray) -> np.ndarray:
        with self._lock, primary_context(self._cuda, context=self._context):
            return self.runner.run(np.ascontiguousarray(x, dtype=np.float32))

    def describe(self) -> dict[str, Any]:
        """What /health reports, plus the plan key."""
        return {**super().describe(), "plan": self.meta.key}


def load_tensorrt_detector(
    directory: Path,
    spec: DetectorSpec,
    precision: Precision,
    device: str | None = None,
    batch: int = 8,
    modules: tuple[ModuleType, ModuleType] | None = None,
) -> TensorRTDetector:
    """The TensorRT detector for the plan under DIR/engines that fits this device, or how to build one."""
    trt, cuda = modules or import_tensorrt()
    index = device_index(device)
    info = detect_device(trt, cuda, index)
    engines = Path(directory) / ENGINES_DIR
    try:
        meta = choose_plan(list_plans(engines), info, Precision(precision), batch, spec.model_id)
    except FileNotFoundError as exc:
        raise FileNotFoundError(str(exc).replace("BUNDLE", str(directory))) from None
    why = mismatch(meta, info, spec.model_id)
    if why is not None:  # choose_plan already filtered; this guards the one we are about to open
        raise RuntimeError(f"refusing plan {meta.key}: {why}")
    return TensorRTDetector(spec, meta, trt, cuda, index, batch)
