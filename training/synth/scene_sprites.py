"""Pre-rendered walking sprites of one identity: the existing Figure drawn once per view and gait phase.

A sprite is RGBA, cropped tight to its alpha, drawn at a reference height (supersampled, then averaged
down) with the point where the feet meet the floor as its anchor. Frames resize a sprite instead of
drawing the figure again, which is what makes minutes of video cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from training.synth.attributes import Person
from training.synth.figure import Figure, Pose

REF_HEIGHT = 240  # pixels of person height P in a sprite
SUPERSAMPLE = 2
PHASES = 4  # gait poses per cycle: together, apart (arm forward), together, apart (arm back)
FOOT = 0.99  # where the shoes meet the floor, in person heights from the top of the head
MIN_HEIGHT = 6  # persons drawn smaller than this (pixels) are left out


@dataclass(frozen=True)
class Sprite:
    """One pose of one identity: a tight RGBA image and the floor point under its feet (its pixels)."""

    image: Image.Image  # RGBA
    anchor: tuple[float, float]


@dataclass(frozen=True)
class Placed:
    """A sprite resized and placed in a frame: top-left pixel, colour, alpha; tight to its alpha."""

    x0: int
    y0: int
    rgb: np.ndarray  # (h, w, 3) uint8
    alpha: np.ndarray  # (h, w) uint8, no fully transparent border row or column
    foot: float  # pixel y of the feet (depth order)

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x, y, w, h) of the drawn pixels, not clipped to the frame."""
        return self.x0, self.y0, self.alpha.shape[1], self.alpha.shape[0]


def gait(view: str, phase: int) -> tuple[float, float]:
    """Stride and arm swing (person units) of a gait phase; in front and back views the legs barely part."""
    angle = 2 * math.pi * phase / PHASES
    if view == "side":
        return 0.02 + 0.08 * abs(math.sin(angle)), 0.07 * math.sin(angle)
    return 0.004 + 0.01 * abs(math.sin(angle)), 0.0


def draw_sprite(person: Person, view: str, facing: int, phase: int) -> Sprite:
    """Draw one pose with the person renderer's Figure and crop it to its alpha."""
    p = REF_HEIGHT * SUPERSAMPLE
    canvas = Image.new("RGBA", (p, int(1.2 * p)), (0, 0, 0, 0))
    stride, swing = gait(view, phase)
    pose = Pose(view=view, facing=facing, stride=stride, swing=swing, cx=p / 2, top=0.1 * p, height=p)
    Figure(ImageDraw.Draw(canvas), person, pose).draw()
    small = canvas.resize((p // SUPERSAMPLE, int(1.2 * p) // SUPERSAMPLE), Image.Resampling.BOX)
    bbox = small.getchannel("A").getbbox()
    if bbox is None:
        raise ValueError(f"the {view} view of a person drew nothing")
    foot_y = (0.1 + FOOT) * REF_HEIGHT
    return Sprite(small.crop(bbox), (REF_HEIGHT / 2 - bbox[0], foot_y - bbox[1]))


class SpriteBook:
    """An identity's sprites, drawn on first use and kept."""

    def __init__(self, person: Person) -> None:
        self.person = person
        self._cache: dict[tuple[str, int, int], Sprite] = {}

    def get(self, view: str, facing: int, phase: int) -> Sprite:
        """The sprite of one view, facing and gait phase."""
        key = (view, facing if view == "side" else 1, phase)
        if key not in self._cache:
            self._cache[key] = draw_sprite(self.person, *key)
        return self._cache[key]


def place(sprite: Sprite, x: float, foot: float, height: float, gain: np.ndarray) -> Placed | None:
    """The sprite scaled to `height` pixels with its anchor at (x, foot), lit by `gain`; None if too small."""
    if height < MIN_HEIGHT:
        return None
    s = height / REF_HEIGHT
    w, h = sprite.image.size
    resized = np.asarray(
        sprite.image.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR)
    )
    rows, cols = np.nonzero(resized[..., 3].any(axis=1))[0], np.nonzero(resized[..., 3].any(axis=0))[0]
    if rows.size == 0:
        return None
    tight = resized[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    rgb = np.clip(tight[..., :3] * gain, 0, 255).astype(np.uint8)
    x0 = round(x - sprite.anchor[0] * s) + int(cols[0])
    y0 = round(foot - sprite.anchor[1] * s) + int(rows[0])
    return Placed(x0, y0, rgb, np.ascontiguousarray(tight[..., 3]), foot)
