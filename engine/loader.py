"""load_encoder: the one entry point that turns a bundle into an Encoder on the best available backend.

`auto` tries TensorRT, then ONNX Runtime on CUDA, then ONNX Runtime on the CPU, then torch, and logs why
each one it passed over could not serve; an explicit backend that cannot be honoured is an error.
`towers` loads only some towers (the fleet hub: text alone); every backend then opens nothing else.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection
from pathlib import Path

from engine.bundle_files import bundle_vocab
from engine.encoder import Backend, Encoder, Precision, tower_set
from engine.graph_io import Tower
from engine.spec import ModelSpec
from engine.tokenizer import Tokenizer

log = logging.getLogger(__name__)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's total)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _tokenizer(bundle: Path, spec: ModelSpec) -> Tokenizer:
    """The tokenizer from the vocabulary the bundle carries."""
    return Tokenizer(bundle_vocab(bundle), spec.context_length)


def _torch_encoder(
    bundle: Path,
    precision: Precision,
    device: str | None,
    max_batch: int,
    threads: int | None,
    towers: frozenset[Tower],
) -> Encoder:
    """The torch reference backend (imports torch only when chosen); towers not asked for are dropped."""
    import torch

    from engine.backends.torch_backend import TorchEncoder
    from engine.bundle import load_bundle

    model, spec = load_bundle(bundle)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if threads:
        torch.set_num_threads(threads)
    return TorchEncoder(model, spec, _tokenizer(bundle, spec), device, precision, max_batch, towers)


def _onnxruntime_encoder(
    bundle: Path,
    precision: Precision,
    device: str | None,
    max_batch: int,
    threads: int | None,
    towers: frozenset[Tower],
) -> Encoder:
    """ONNX Runtime on CUDA when device is 'cuda' (or None and CUDA is there), else on the CPU."""
    import onnxruntime as ort

    from engine.backends.onnxruntime_backend import CUDA_PROVIDER, OnnxRuntimeEncoder

    if device is None:
        device = "cuda" if CUDA_PROVIDER in ort.get_available_providers() else "cpu"
        if precision == Precision.INT8:
            device = "cpu"
    spec = ModelSpec.load(bundle)
    cores = threads or available_cores()
    tokenizer = _tokenizer(bundle, spec)
    return OnnxRuntimeEncoder(bundle, spec, tokenizer, device, precision, cores, 1, max_batch, towers)


def _tensorrt_encoder(
    bundle: Path,
    precision: Precision,
    device: str | None,
    max_batch: int,
    threads: int | None,
    towers: frozenset[Tower],
) -> Encoder:
    """TensorRT with the plan built for this GPU and TensorRT version."""
    from engine.backends.tensorrt_backend import load_tensorrt_encoder

    spec = ModelSpec.load(bundle)
    tokenizer = _tokenizer(bundle, spec)
    return load_tensorrt_encoder(bundle, spec, tokenizer, precision, device, max_batch, towers=towers)


Loader = Callable[[Path, Precision, str | None, int, int | None, frozenset[Tower]], Encoder]
LOADERS: dict[Backend, Loader] = {
    Backend.TENSORRT: _tensorrt_encoder,
    Backend.ONNXRUNTIME: _onnxruntime_encoder,
    Backend.TORCH: _torch_encoder,
}


def auto_candidates(device: str | None) -> list[tuple[Backend, str | None]]:
    """(backend, device) pairs `auto` tries, best first, restricted to a device when one is given."""
    order: list[tuple[Backend, str | None]] = [
        (Backend.TENSORRT, "cuda"),
        (Backend.ONNXRUNTIME, "cuda"),
        (Backend.ONNXRUNTIME, "cpu"),
        (Backend.TORCH, None),
    ]
    if device is None:
        return order
    on_gpu = device.startswith("cuda")
    kept = [(b, device) for b, d in order if d is None or d.startswith("cuda") == on_gpu]
    return [(b, d) for b, d in kept if b != Backend.TENSORRT or on_gpu]


def _auto(
    bundle: Path,
    precision: Precision,
    device: str | None,
    max_batch: int,
    threads: int | None,
    towers: frozenset[Tower],
) -> Encoder:
    """The first backend that loads, in the order of auto_candidates; logs why the others did not."""
    passed_over = []
    for backend, where in auto_candidates(device):
        try:
            encoder = LOADERS[backend](bundle, precision, where, max_batch, threads, towers)
        except Exception as exc:  # every reason a backend cannot serve here is reported, then skipped
            passed_over.append(f"{backend} ({where or 'default device'}): {exc}")
            log.info("backend auto: not %s on %s: %s", backend, where or "its default device", exc)
            continue
        if passed_over:
            log.warning(
                "backend auto: %s on %s; passed over %s", backend, encoder.device, "; ".join(passed_over)
            )
        else:
            log.info("backend auto: %s on %s", backend, encoder.device)
        return encoder
    raise RuntimeError(f"no backend can serve {bundle} at {precision}: " + "; ".join(passed_over))


def load_encoder(
    bundle: str | Path,
    backend: Backend | str = Backend.AUTO,
    precision: Precision | str = Precision.FP32,
    device: str | None = None,
    max_batch: int = 32,
    *,
    threads: int | None = None,
    towers: Collection[Tower] | None = None,
) -> Encoder:
    """An Encoder for a bundle; an explicit backend that cannot be honoured is an error, never a fallback.

    `threads` sets CPU threads for ONNX Runtime (intra-op) and torch; None uses the cores available.
    `towers` are the towers to load, None for both; {Tower.TEXT} gives a text-only encoder that refuses
    images and never opens, deserializes or keeps the image tower.
    """
    bundle, backend, precision = Path(bundle), Backend(backend), Precision(precision)
    chosen = tower_set(towers)
    ModelSpec.load(bundle)  # fail early, naming the file, when this is not a bundle
    if backend == Backend.AUTO:
        return _auto(bundle, precision, device, max_batch, threads, chosen)
    return LOADERS[backend](bundle, precision, device, max_batch, threads, chosen)
