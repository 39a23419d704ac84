"""load_detector: a detector directory on the best available backend, in the towers' `auto` order.

`auto` tries TensorRT (a plan under DIR/engines built on this device), then ONNX Runtime on CUDA, then on
the CPU, and logs why it passed each one over; an explicit backend that cannot be honoured is an error.
"""

from __future__ import annotations

import logging
from pathlib import Path

from engine.detector.detector import Detector
from engine.detector.spec import DetectorSpec
from engine.encoder import Backend, Precision
from engine.loader import auto_candidates, available_cores

log = logging.getLogger(__name__)


def _load(
    directory: Path,
    spec: DetectorSpec,
    backend: Backend,
    precision: Precision,
    device: str | None,
    batch: int,
    threads: int | None,
) -> Detector:
    """One backend, as asked; imports only what it runs."""
    if backend == Backend.TENSORRT:
        from engine.detector.tensorrt_detector import load_tensorrt_detector

        return load_tensorrt_detector(directory, spec, precision, device, batch)
    if backend == Backend.ONNXRUNTIME:
        if precision != Precision.FP32:
            raise ValueError(f"the onnxruntime detector runs fp32; {precision} is for tensorrt")
        import onnxruntime as ort

        from engine.backends.onnxruntime_backend import CUDA_PROVIDER
        from engine.detector.onnxruntime_detector import OnnxRuntimeDetector

        if device is None:
            device = "cuda" if CUDA_PROVIDER in ort.get_available_providers() else "cpu"
        return OnnxRuntimeDetector(directory, spec, device, threads or available_cores(), batch)
    raise ValueError(f"a detector runs on tensorrt or onnxruntime, not {backend}")


def _auto(
    directory: Path,
    spec: DetectorSpec,
    precision: Precision,
    device: str | None,
    batch: int,
    threads: int | None,
) -> Detector:
    """The first backend that loads; logs why the others did not."""
    passed_over = []
    for backend, where in auto_candidates(device):
        if backend == Backend.TORCH or (backend == Backend.ONNXRUNTIME and precision != Precision.FP32):
            continue
        try:
            detector = _load(directory, spec, backend, precision, where, batch, threads)
        except Exception as exc:  # every reason a backend cannot serve here is reported, then skipped
            passed_over.append(f"{backend} ({where or 'default device'}): {exc}")
            log.info("detector auto: not %s on %s: %s", backend, where or "its default device", exc)
            continue
        level = logging.WARNING if passed_over else logging.INFO
        log.log(level, "detector auto: %s on %s; passed over %s", backend, detector.device, passed_over)
        return detector
    raise RuntimeError(
        f"no backend can run the detector {directory} at {precision}: " + "; ".join(passed_over)
    )


def load_detector(
    directory: str | Path,
    backend: Backend | str = Backend.AUTO,
    precision: Precision | str = Precision.FP32,
    device: str | None = None,
    batch: int = 8,
    *,
    threads: int | None = None,
) -> Detector:
    """A Detector for DIR (detector.json + detector.onnx), checked and dry-run before it is returned."""
    directory, backend, precision = Path(directory), Backend(backend), Precision(precision)
    spec = DetectorSpec.load(directory)
    if backend == Backend.AUTO:
        return _auto(directory, spec, precision, device, batch, threads)
    return _load(directory, spec, backend, precision, device, batch, threads)
