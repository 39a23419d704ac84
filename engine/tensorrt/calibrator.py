"""INT8 calibration for the image tower: batches of real gallery crops, an entropy calibrator, a cache.

The calibration cache records the activation ranges TensorRT measured; with it a rebuild (another batch
profile, a new TensorRT timing) skips the crops entirely.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

from engine.preprocess import preprocess_batch
from engine.spec import ModelSpec

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def calibration_files(folder: Path, limit: int) -> list[Path]:
    """Up to `limit` image files under a folder, in a stable order; an error when there are none."""
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(
            f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder} to calibrate INT8 with"
        )
    if len(files) > limit:  # spread the pick over the whole folder rather than its first cameras
        files = [files[i] for i in np.linspace(0, len(files) - 1, limit).astype(int)]
    return files


def calibration_batches(files: list[Path], spec: ModelSpec, batch_size: int) -> Iterator[np.ndarray]:
    """Preprocessed float32 [batch_size, 3, H, W] batches with the bundle's own preprocessing.

    The last partial batch is dropped: the calibrator feeds fixed-size batches.
    """
    for start in range(0, len(files) - batch_size + 1, batch_size):
        images = []
        for path in files[start : start + batch_size]:
            with Image.open(path) as image:
                image.load()
                images.append(image)
        yield preprocess_batch(images, spec.image_size, spec.mean, spec.std)


def make_entropy_calibrator(
    trt: ModuleType,
    cuda: ModuleType,
    batches: Iterator[np.ndarray],
    batch_shape: tuple[int, ...],
    cache_path: Path,
    min_batches: int = 1,
) -> Any:
    """An IInt8EntropyCalibrator2 that copies each batch to one device buffer and keeps a cache file.

    TensorRT prints an exception raised in get_batch and reads it as "no more data", so the calibrator
    keeps it and `raise_for_failure` raises it after the build; a cache is never written from fewer
    than `min_batches` batches. The class is made here because its base comes from the module passed in.
    """

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[name-defined]
        """Feeds gallery crops to TensorRT's INT8 calibration; reads and writes the calibration cache."""

        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.batches, self.shape, self.cache_path = batches, batch_shape, Path(cache_path)
            self.min_batches = max(1, min_batches)
            self.device = cuda.mem_alloc(int(np.prod(batch_shape)) * np.dtype(np.float32).itemsize)
            self.count, self.from_cache = 0, False
            self.error: Exception | None = None

        def get_batch_size(self) -> int:
            return int(self.shape[0])

        def get_batch(self, names: list[str]) -> list[int] | None:
            try:
                return self._next_batch()
            except Exception as exc:  # TensorRT would swallow it; kept for raise_for_failure
                log.error("INT8 calibration stopped at batch %d: %r", self.count + 1, exc)
                self.error = exc
                return None

        def _next_batch(self) -> list[int] | None:
            """Copy the next batch to the device buffer; None when the crops are used up."""
            batch = next(self.batches, None)
            if batch is None:
                log.info("INT8 calibration used %d batches", self.count)
                return None
            if batch.shape != self.shape:
                raise ValueError(f"calibration batch {batch.shape} does not match {self.shape}")
            cuda.memcpy_htod(self.device, np.ascontiguousarray(batch, dtype=np.float32))
            self.count += 1
            return [int(self.device)]

        def read_calibration_cache(self) -> bytes | None:
            if self.cache_path.is_file():
                log.info("INT8 calibration cache %s reused", self.cache_path)
                self.from_cache = True
                return self.cache_path.read_bytes()
            return None

        def write_calibration_cache(self, cache: bytes) -> None:
            if self.error is not None or self.count < self.min_batches:
                log.error("not writing %s: %s", self.cache_path, self._shortfall())
                return
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            self.cache_path.write_bytes(bytes(cache))

        def _shortfall(self) -> str:
            """Why this calibration must not be kept."""
            if self.error is not None:
                return f"get_batch raised {self.error!r}"
            return f"calibration ran on {self.count} batches, fewer than the {self.min_batches} required"

        def raise_for_failure(self) -> None:
            """After the build: raise what get_batch raised, or refuse a calibration on too few batches."""
            if self.error is not None:
                self.error.add_note(f"raised in INT8 calibration (get_batch, batch {self.count + 1})")
                raise self.error
            if not self.from_cache and self.count < self.min_batches:
                raise RuntimeError(f"INT8 {self._shortfall()}; no calibration cache was written")

    return EntropyCalibrator()
