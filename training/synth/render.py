"""Render one image of an identity through one camera: scene, person, occluder, sensor, downscale."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from training.synth.attributes import Person
from training.synth.cameras import Camera, background, develop, occlude
from training.synth.figure import Figure, Pose
from training.synth.vocab import VIEWS

SUPERSAMPLE = 2  # draw at twice the output size, then average down: smooth edges like a real lens


def random_pose(camera: Camera, size: tuple[int, int], rng: np.random.Generator) -> Pose:
    """View, facing, stride and placement for one shot, in pixels of a (H, W) canvas."""
    h, w = size
    view = VIEWS[int(rng.choice(3, p=[0.4, 0.35, 0.25]))]
    height = rng.uniform(*camera.scale) * h
    stride = rng.uniform(0.0, 0.1) if view == "side" else rng.uniform(-0.01, 0.015)
    return Pose(
        view=view,
        facing=1 if rng.random() < 0.5 else -1,
        stride=stride,
        swing=rng.uniform(-0.08, 0.08),
        cx=w / 2 + rng.uniform(-1, 1) * camera.shift * w,
        top=h - height - rng.uniform(0.0, 0.6) * (h - height),
        height=height,
    )


def render(
    person: Person, camera: Camera, size: tuple[int, int], rng: np.random.Generator
) -> tuple[Image.Image, str]:
    """One RGB image of (H, W) and the view it shows."""
    h, w = size
    canvas = (h * SUPERSAMPLE, w * SUPERSAMPLE)
    image = background(camera, canvas, rng)
    pose = random_pose(camera, canvas, rng)
    Figure(ImageDraw.Draw(image), person, pose).draw()
    if rng.random() < camera.occlusion:
        occlude(image, rng)
    pixels = develop(image, camera, SUPERSAMPLE, rng)
    out = Image.fromarray(pixels).resize((w, h), Image.Resampling.BOX)
    return out, pose.view
