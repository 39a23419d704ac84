"""Cameras of the two domains: backgrounds, framing, occluders, lighting, colour cast, blur and noise.

The source cameras are bright, neutral and framed tightly; the target cameras are a night street, a
sodium-lit brick corridor and a washed-out cluttered yard, framed looser with more blur and occlusion.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from training.synth.vocab import Domain

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Camera:
    """One camera: what is behind the person and what the sensor does to the picture."""

    name: str
    sky: RGB  # background colour at the top
    ground: RGB  # floor colour at the bottom
    scenery: str  # pavement, corridor, park, street, brick, clutter
    light: tuple[float, float]  # brightness gain range
    cast: tuple[float, float, float]  # per-channel gain (white balance)
    saturation: float
    contrast: float
    blur: tuple[float, float]  # Gaussian sigma range, in output pixels
    noise: float  # sensor noise sigma, 0-255 scale
    scale: tuple[float, float]  # person height / image height
    shift: float  # horizontal jitter of the person, fraction of width
    occlusion: float  # probability of a foreground occluder


_TIDY = Camera(
    name="s",
    sky=(200, 200, 196),
    ground=(150, 150, 148),
    scenery="pavement",
    light=(0.95, 1.05),
    cast=(1.0, 1.0, 1.0),
    saturation=1.0,
    contrast=1.0,
    blur=(0.0, 0.3),
    noise=2.0,
    scale=(0.84, 0.95),
    shift=0.06,
    occlusion=0.08,
)
_LOOSE = replace(_TIDY, blur=(0.2, 0.6), noise=4.0, scale=(0.72, 0.9), shift=0.12, occlusion=0.2)

CAMERAS: dict[Domain, tuple[Camera, ...]] = {
    Domain.SOURCE: (
        replace(_TIDY, name="s1"),
        replace(
            _TIDY,
            name="s2",
            sky=(222, 210, 185),
            ground=(160, 140, 115),
            scenery="corridor",
            cast=(1.02, 1.0, 0.98),
        ),
        replace(
            _TIDY,
            name="s3",
            sky=(190, 205, 215),
            ground=(135, 150, 120),
            scenery="park",
            cast=(0.98, 1.0, 1.02),
        ),
    ),
    Domain.TARGET: (
        replace(
            _LOOSE,
            name="t1",
            sky=(25, 30, 55),
            ground=(55, 55, 65),
            scenery="street",
            light=(0.7, 0.9),
            cast=(0.85, 0.95, 1.2),
            saturation=0.85,
            contrast=0.9,
            noise=5.0,
        ),
        replace(
            _LOOSE,
            name="t2",
            sky=(120, 60, 45),
            ground=(95, 80, 70),
            scenery="brick",
            light=(0.8, 0.95),
            cast=(1.2, 1.0, 0.75),
            saturation=0.9,
            contrast=0.95,
        ),
        replace(
            _LOOSE,
            name="t3",
            sky=(200, 200, 190),
            ground=(170, 165, 150),
            scenery="clutter",
            light=(1.05, 1.2),
            saturation=0.7,
            contrast=0.8,
            blur=(0.3, 0.7),
        ),
    ),
}


def background(camera: Camera, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A (H, W) scene for a camera: vertical gradient from sky to ground plus its scenery."""
    h, w = size
    horizon = rng.uniform(0.45, 0.7)
    t = np.clip((np.arange(h) / h - horizon + 0.1) / 0.2, 0, 1)[:, None]  # (H, 1)
    column = np.asarray(camera.sky) * (1 - t) + np.asarray(camera.ground) * t  # (H, 3)
    column = column + rng.normal(0, 6, size=3)
    pixels = np.broadcast_to(column[:, None, :], (h, w, 3)).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(pixels))
    _scenery(ImageDraw.Draw(image), camera, size, horizon, rng)
    return image


def _rgb(rng: np.random.Generator, low: int = 0, high: int = 256) -> RGB:
    r, g, b = (int(v) for v in rng.integers(low, high, size=3))
    return r, g, b


def _scenery(
    d: ImageDraw.ImageDraw, camera: Camera, size: tuple[int, int], horizon: float, rng: np.random.Generator
) -> None:
    """Props of each scene kind, placed at random."""
    h, w = size
    y0 = horizon * h
    if camera.scenery == "pavement":
        for k in range(int(rng.integers(2, 5))):
            y = y0 + (k + 1) * (h - y0) / 5
            d.line([(0, y), (w, y)], fill=(130, 130, 128), width=max(1, h // 96))
    elif camera.scenery == "corridor":
        x = rng.uniform(-0.2, 0.8) * w
        d.rectangle([x, 0.15 * h, x + 0.35 * w, y0], fill=(150, 120, 90))
    elif camera.scenery == "park":
        for _ in range(int(rng.integers(1, 4))):
            x, r = rng.uniform(0, w), rng.uniform(0.1, 0.25) * w
            d.ellipse([x - r, y0 - r, x + r, y0 + r * 0.5], fill=(60, 110, 60))
    elif camera.scenery == "street":
        x = rng.uniform(0, w)
        d.ellipse([x - 0.3 * w, 0.05 * h, x + 0.3 * w, 0.2 * h], fill=(150, 140, 90))  # lamp glow
        for _ in range(int(rng.integers(2, 5))):
            xw, yw = rng.uniform(0, w), rng.uniform(0, y0)
            d.rectangle([xw, yw, xw + 0.12 * w, yw + 0.05 * h], fill=(90, 85, 50))  # lit windows
    elif camera.scenery == "brick":
        step = max(2, h // 24)
        for row, y in enumerate(range(0, int(y0), step)):
            for x in range(-(row % 2) * step, w, step * 2):
                d.rectangle([x, y, x + step * 2 - 2, y + step - 2], fill=(140, 70, 50))
    elif camera.scenery == "clutter":
        for _ in range(int(rng.integers(3, 7))):
            x, y = rng.uniform(-0.2, 1.0) * w, rng.uniform(0, 0.9) * h
            d.rectangle(
                [x, y, x + rng.uniform(0.1, 0.5) * w, y + rng.uniform(0.05, 0.3) * h], fill=_rgb(rng, 60, 230)
            )


def occlude(image: Image.Image, rng: np.random.Generator) -> None:
    """A foreground thing over part of the person: a pole, a bench or car, or a passer-by's shoulder."""
    w, h = image.size
    d = ImageDraw.Draw(image)
    kind = int(rng.integers(3))
    if kind == 0:
        x, half = rng.uniform(0.2, 0.8) * w, rng.uniform(0.05, 0.1) * w
        d.rectangle([x - half, 0, x + half, h], fill=_rgb(rng, 20, 120))
    elif kind == 1:
        top = rng.uniform(0.72, 0.85) * h
        d.rectangle([0, top, w, h], fill=_rgb(rng, 30, 200))
    else:
        left = rng.random() < 0.5
        x = 0 if left else w
        d.ellipse([x - 0.35 * w, 0.25 * h, x + 0.35 * w, 1.2 * h], fill=_rgb(rng, 20, 200))


def develop(image: Image.Image, camera: Camera, scale: int, rng: np.random.Generator) -> np.ndarray:
    """The sensor: blur, gain and white balance, saturation, contrast, noise -> uint8 (H, W, 3)."""
    sigma = rng.uniform(*camera.blur) * scale
    if sigma > 0.05:
        image = image.filter(ImageFilter.GaussianBlur(sigma))
    x = np.asarray(image, dtype=np.float32)  # (H, W, 3)
    cast = np.asarray(camera.cast, np.float32) * rng.uniform(0.97, 1.03, size=3).astype(np.float32)
    x = x * np.float32(rng.uniform(*camera.light)) * cast
    grey = x.mean(axis=2, keepdims=True)
    x = grey + camera.saturation * (x - grey)
    x = 128.0 + camera.contrast * (x - 128.0)
    if camera.noise:
        x = x + rng.normal(0.0, camera.noise, size=x.shape).astype(np.float32)
    return np.clip(x, 0, 255).astype(np.uint8)
