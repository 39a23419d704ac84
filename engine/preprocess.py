"""The one preprocessing function, crop -> float32 [3, H, W], used by training, export and serving."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps

ImageLike = Image.Image | np.ndarray


def to_rgb_image(image: ImageLike) -> Image.Image:
    """A PIL RGB image upright per its EXIF orientation; uint8 arrays are HxW (grey) or HxWx3/4."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise ValueError(f"expected a uint8 HxW or HxWxC array, got {image.dtype} {image.shape}")
        image = Image.fromarray(image)
    elif isinstance(image, Image.Image):
        image = ImageOps.exif_transpose(image)
    else:
        raise TypeError(f"expected a PIL image or uint8 array, got {type(image).__name__}")
    return image if image.mode == "RGB" else image.convert("RGB")


def preprocess(
    image: ImageLike,
    size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
) -> np.ndarray:
    """Resize to (H, W) bicubic, scale to [0, 1], normalise per channel -> float32 [3, H, W]."""
    h, w = size
    rgb = to_rgb_image(image)
    if rgb.size != (w, h):
        rgb = rgb.resize((w, h), Image.Resampling.BICUBIC)
    pixels = np.asarray(rgb, dtype=np.float32) / np.float32(255.0)  # (H, W, 3)
    normed = (pixels - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(normed.transpose(2, 0, 1))  # (3, H, W)


def preprocess_batch(
    images: Sequence[ImageLike],
    size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
) -> np.ndarray:
    """Stack preprocessed images -> float32 [N, 3, H, W]."""
    if not images:
        return np.zeros((0, 3, *size), dtype=np.float32)
    return np.stack([preprocess(im, size, mean, std) for im in images])
