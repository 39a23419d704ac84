"""Build TensorRT plans for a bundle's towers on the device that will run them.

One optimization profile per tower, FP16 with normalisation and reductions pinned to FP32, INT8 for the
image tower with an entropy calibrator over gallery crops (the text tower is then FP16: there are no
gallery crops for text), a timing cache per device, and plans under `engines/<key>/`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from engine.bundle_files import ENGINES_DIR
from engine.encoder import Precision
from engine.graph_io import Tower, onnx_path
from engine.spec import ModelSpec
from engine.tensorrt.calibrator import calibration_batches, calibration_files, make_entropy_calibrator
from engine.tensorrt.keys import PlanMeta, detect_device, engine_key
from engine.tensorrt.profiles import Profile, TowerBatches, tower_profiles
from engine.tensorrt.runtime import primary_context
from engine.tensorrt.versions import check_opset, network_flags

log = logging.getLogger(__name__)

FP32_LAYER_TYPES = ("NORMALIZATION", "REDUCE")  # LayerNorm and its un-fused mean/variance, the L2 norm


@dataclass
class BuildOptions:
    """Knobs of build-engine beyond precision and batch."""

    calibration_dir: Path | None = None
    calibration_limit: int = 512
    calibration_batch: int = 8
    calibration_min_batches: int = 8  # fewer than min(this, the batches the crops make) is refused
    workspace_mb: int = 1024
    fp32_softmax: bool = False
    device_index: int = 0
    force_fp16: bool = False  # build FP16 even when the export's FP16 check failed


def tower_precision(precision: Precision, tower: Tower) -> Precision:
    """What a tower is built at: INT8 applies to the image tower, the text tower then runs FP16."""
    if precision == Precision.INT8 and tower == Tower.TEXT:
        return Precision.FP16
    return precision


def fp32_layer_indices(layers: Sequence[tuple[str, bool]], fp32_softmax: bool = False) -> list[int]:
    """Indices of (type name, has float output) layers to keep at FP32 in a reduced-precision build."""
    kinds = (*FP32_LAYER_TYPES, "SOFTMAX") if fp32_softmax else FP32_LAYER_TYPES
    return [i for i, (kind, is_float) in enumerate(layers) if is_float and kind in kinds]


def _pin_fp32(trt: ModuleType, network: Any, fp32_softmax: bool) -> int:
    """Set precision and output types of the layers that overflow in FP16 to FP32; returns how many."""
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    floating = (trt.float32, trt.float16)
    described = [(layer.type.name, layer.get_output(0).dtype in floating) for layer in layers]
    chosen = fp32_layer_indices(described, fp32_softmax)
    for i in chosen:
        layers[i].precision = trt.float32
        for j in range(layers[i].num_outputs):
            layers[i].set_output_type(j, trt.float32)
    return len(chosen)


def _timing_cache(config: Any, path: Path | None) -> Any:
    """Attach a timing cache (read from `path` when it exists) so rebuilds skip kernel timing."""
    blob = path.read_bytes() if path is not None and path.is_file() else b""
    cache = config.create_timing_cache(blob)
    config.set_timing_cache(cache, False)
    return cache


def build_plan(
    trt: ModuleType,
    onnx_file: Path,
    profile: Profile,
    precision: Precision,
    calibrator: Any = None,
    timing_cache: Path | None = None,
    options: BuildOptions | None = None,
) -> bytes:
    """Parse one ONNX graph and build a serialized plan for one profile at one precision."""
    options = options or BuildOptions()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(network_flags(trt, trt.__version__))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_file)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_file}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mb << 20)
    shapes = builder.create_optimization_profile()
    shapes.set_shape(profile.input_name, profile.min, profile.opt, profile.max)
    config.add_optimization_profile(shapes)
    if precision in (Precision.FP16, Precision.INT8):
        config.set_flag(trt.BuilderFlag.FP16)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        log.info("%s: %d layers kept at FP32", onnx_file.name, _pin_fp32(trt, network, options.fp32_softmax))
    if precision == Precision.INT8:
        if calibrator is None:
            raise ValueError("an INT8 build needs a calibrator (a folder of gallery crops)")
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = calibrator
        fixed = builder.create_optimization_profile()  # calibration runs at the calibrator's batch shape
        fixed.set_shape(profile.input_name, calibrator.shape, calibrator.shape, calibrator.shape)
        config.set_calibration_profile(fixed)
    cache = _timing_cache(config, timing_cache)
    plan = builder.build_serialized_network(network, config)
    if calibrator is not None:  # TensorRT printed and swallowed what get_batch raised: raise it here
        calibrator.raise_for_failure()
    if plan is None:
        raise RuntimeError(f"TensorRT failed to build {onnx_file.name} at {precision}; see its log above")
    if timing_cache is not None:
        write_atomic(timing_cache, bytes(cache.serialize()))
    return bytes(plan)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file through a temporary name so a crash never leaves half a plan."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _check_export(spec: ModelSpec, bundle: Path, precision: Precision, trt_version: str, force: bool) -> None:
    """The ONNX files must belong to these weights, parse on this TensorRT, and be FP16-safe when asked."""
    if not spec.export or spec.export.get("model_id") != spec.model_id:
        raise RuntimeError(
            f"{bundle} has no ONNX export for its weights: run `person-search export {bundle}`"
        )
    for tower in Tower:
        record = spec.export[tower]
        check_opset(int(record["opset"]), trt_version, str(onnx_path(bundle, tower)))
        reduced = tower_precision(precision, tower) != Precision.FP32
        if reduced and not record.get("fp16", {}).get("safe", True) and not force:
            raise RuntimeError(
                f"the {tower} tower failed the FP16 check at export (min cosine "
                f"{record['fp16']['min_cosine']}): build fp32, or pass --force-fp16 to build it anyway"
            )


def _calibrator(
    trt: ModuleType, cuda: ModuleType, spec: ModelSpec, cache: Path, options: BuildOptions
) -> Any:
    """The image tower's calibrator; crops are only read when the cache for these weights is missing."""
    h, w = spec.image_size
    batch = options.calibration_batch
    if cache.is_file():
        return make_entropy_calibrator(trt, cuda, iter(()), (batch, 3, h, w), cache)
    if options.calibration_dir is None:
        raise ValueError("INT8 needs --calibration-dir: a folder of gallery crops (a few hundred is enough)")
    files = calibration_files(options.calibration_dir, options.calibration_limit)
    if len(files) < batch:
        raise ValueError(f"{len(files)} calibration images is fewer than one batch of {batch}")
    least = min(len(files) // batch, options.calibration_min_batches)
    return make_entropy_calibrator(
        trt, cuda, calibration_batches(files, spec, batch), (batch, 3, h, w), cache, least
    )


def build_engines(
    bundle: Path,
    precision: Precision,
    max_batch: TowerBatches | int,
    trt: ModuleType,
    cuda: ModuleType,
    options: BuildOptions | None = None,
) -> PlanMeta:
    """Build image.plan and text.plan for this device under engines/<key>/ and describe them in plan.json."""
    bundle, precision, options = Path(bundle), Precision(precision), options or BuildOptions()
    batches = TowerBatches.of(max_batch)
    spec = ModelSpec.load(bundle)
    _check_export(spec, bundle, precision, trt.__version__, options.force_fp16)
    device = detect_device(trt, cuda, options.device_index)
    key = engine_key(device, precision, batches, spec.context_length)
    engines = bundle / ENGINES_DIR
    profiles = tower_profiles(spec.image_size, spec.context_length, batches)
    with primary_context(cuda, options.device_index):
        for tower in Tower:
            at = tower_precision(precision, tower)
            calibrator = None
            if at == Precision.INT8:
                cache = engines / f"calibration-{spec.model_id}-trt{device.trt_version}.cache"
                calibrator = _calibrator(trt, cuda, spec, cache, options)
            start = time.perf_counter()
            try:
                plan = build_plan(
                    trt, onnx_path(bundle, tower), profiles[tower], at, calibrator,
                    engines / f"{device.key}.timing-cache", options,
                )  # fmt: skip
            finally:
                if calibrator is not None:
                    calibrator.device.free()  # inside the context it was allocated in
            write_atomic(engines / key / f"{tower}.plan", plan)
            log.info("built %s/%s.plan (%s) in %.0f s", key, tower, at, time.perf_counter() - start)
    meta = PlanMeta(
        key=key,
        trt_version=device.trt_version,
        gpu_name=device.gpu_name,
        compute_capability=device.compute_capability,
        precision=precision,
        tower_precisions={str(t): tower_precision(precision, t) for t in Tower},
        max_batch=batches.shared,
        tower_max_batch={str(Tower.TEXT): batches.text, str(Tower.IMAGE): batches.image},
        context_length=spec.context_length,
        image_size=spec.image_size,
        model_id=spec.model_id,
        onnx_opsets={str(t): int(spec.export[t]["opset"]) for t in Tower},
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    meta.save(engines / key)
    meta.directory = engines / key
    return meta
