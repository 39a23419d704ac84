"""Build a detector's TensorRT plan on the device, with the towers' builder, keys and INT8 calibrator.

FP16 (normalisations and reductions pinned to FP32, as for the towers) or INT8 calibrated on letterboxed
frames from a folder of images; the plan goes to DIR/engines/<key>/detector.plan with its plan.json.
Written for TensorRT 8.6 and 10.x; exercised against a fake tensorrt module only, never on a real GPU.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

from engine.bundle_files import ENGINES_DIR
from engine.detector.letterbox import letterbox_batch
from engine.detector.spec import DETECTOR_ONNX, DetectorSpec
from engine.detector.tensorrt_detector import DETECTOR_PLAN
from engine.encoder import Precision
from engine.tensorrt.build import BuildOptions, build_plan, write_atomic
from engine.tensorrt.calibrator import calibration_files, make_entropy_calibrator
from engine.tensorrt.keys import PlanMeta, detect_device, detector_key
from engine.tensorrt.profiles import Profile
from engine.tensorrt.runtime import primary_context
from engine.tensorrt.versions import check_opset

log = logging.getLogger(__name__)
DETECTOR = "detector"


def detector_profile(spec: DetectorSpec, batch: int) -> Profile:
    """Batch 1..batch at the input size, tuned for full batches; a static-batch graph gets exactly its own."""
    h, w = spec.input_size
    low = spec.graph.batch or 1
    return Profile(spec.graph.input, (low, 3, h, w), (batch, 3, h, w), (batch, 3, h, w))


def frame_batches(files: list[Path], spec: DetectorSpec, batch: int) -> Iterator[np.ndarray]:
    """Letterboxed float32 [batch, 3, H, W] batches of image files; the last partial batch is dropped."""
    for start in range(0, len(files) - batch + 1, batch):
        frames = []
        for path in files[start : start + batch]:
            with Image.open(path) as image:
                frames.append(np.asarray(image.convert("RGB")))
        yield letterbox_batch(frames, spec.input_size, spec.letterbox.pad_value, spec.letterbox.center)[0]


def _calibrator(
    trt: ModuleType, cuda: ModuleType, spec: DetectorSpec, cache: Path, batch: int, options: BuildOptions
) -> Any:
    """An entropy calibrator over frames (only read when no cache exists for this graph and TensorRT)."""
    h, w = spec.input_size
    shape = (batch, 3, h, w)
    if cache.is_file():
        return make_entropy_calibrator(trt, cuda, iter(()), shape, cache)
    if options.calibration_dir is None:
        raise ValueError("a detector INT8 build needs --calibration-dir: a folder of camera frames")
    files = calibration_files(options.calibration_dir, options.calibration_limit)
    if len(files) < batch:
        raise ValueError(f"{len(files)} calibration frames is fewer than one batch of {batch}")
    return make_entropy_calibrator(trt, cuda, frame_batches(files, spec, batch), shape, cache)


def plan_batch(spec: DetectorSpec, max_batch: int) -> int:
    """The plan's batch: the graph's static batch when it has one, else max_batch."""
    if max_batch < 1:
        raise ValueError(f"max batch must be at least 1, not {max_batch}")
    if spec.graph.batch is not None and spec.graph.batch != max_batch:
        log.warning("the detector graph has a static batch of %d; building for it", spec.graph.batch)
    return spec.graph.batch or max_batch


def build_detector_engine(
    directory: Path,
    precision: Precision,
    max_batch: int,
    trt: ModuleType,
    cuda: ModuleType,
    options: BuildOptions | None = None,
) -> PlanMeta:
    """Build detector.plan for this device under DIR/engines/<key>/ and describe it in plan.json."""
    directory, precision, options = Path(directory), Precision(precision), options or BuildOptions()
    spec = DetectorSpec.load(directory)
    onnx_file = directory / DETECTOR_ONNX
    check_opset(spec.graph.opset, trt.__version__, str(onnx_file))
    batch = plan_batch(spec, max_batch)
    device = detect_device(trt, cuda, options.device_index)
    key = detector_key(device, precision, batch, spec.input_size)
    engines = directory / ENGINES_DIR
    start = time.perf_counter()
    with primary_context(cuda, options.device_index):
        calibrator = None
        if precision == Precision.INT8:
            cache = engines / f"calibration-{spec.model_id}-trt{device.trt_version}.cache"
            calibrator = _calibrator(
                trt, cuda, spec, cache, spec.graph.batch or options.calibration_batch, options
            )
        try:
            plan = build_plan(
                trt, onnx_file, detector_profile(spec, batch), precision, calibrator,
                engines / f"{device.key}.timing-cache", options,
            )  # fmt: skip
        finally:
            if calibrator is not None:
                calibrator.device.free()  # inside the context it was allocated in
        write_atomic(engines / key / DETECTOR_PLAN, plan)
    log.info("built %s/%s (%s) in %.0f s", key, DETECTOR_PLAN, precision, time.perf_counter() - start)
    meta = PlanMeta(
        key=key,
        trt_version=device.trt_version,
        gpu_name=device.gpu_name,
        compute_capability=device.compute_capability,
        precision=precision,
        tower_precisions={DETECTOR: precision},
        max_batch=batch,
        context_length=0,  # no text tower
        image_size=spec.input_size,
        model_id=spec.model_id,
        onnx_opsets={DETECTOR: spec.graph.opset},
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    meta.save(engines / key)
    meta.directory = engines / key
    return meta
