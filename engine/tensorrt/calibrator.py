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
) -> Any:
    """An IInt8EntropyCalibrator2 that copies each batch to one device buffer and keeps a cache file.

    The class is made here because its base class comes from the tensorrt module passed in.
    """

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[name-defined]
        """Feeds gallery crops to TensorRT's INT8 calibration; reads and writes the calibration cache."""

        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.batches, self.shape, self.cache_path = batches, batch_shape, Path(cache_path)
            self.device = cuda.mem_alloc(int(np.prod(batch_shape)) * np.dtype(np.float32).itemsize)
            self.count = 0

        def get_batch_size(self) -> int:
            return int(self.shape[0])

        def get_batch(self, names: list[str]) -> list[int] | None:
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
                return self.cache_path.read_bytes()
            return None

        def write_calibration_cache(self, cache: bytes) -> None:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            self.cache_path.write_bytes(bytes(cache))

    return EntropyCalibrator()
