"""Frames of one camera: walkers and props painted far to near, and each walker's box and visibility.

Depth order is the foot position: whatever stands lower in the frame is nearer and painted later. A
walker's box is the alpha bounding box of its placed sprite, clipped to the frame; its visibility is the
fraction of its (unclipped) box that is inside the frame and not covered by the mask of anything nearer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from training.synth.scene_layout import Geometry, Prop
from training.synth.scene_plan import Walk
from training.synth.scene_sprites import PHASES, Placed, SpriteBook, place

Layer = tuple[int, int, np.ndarray, np.ndarray]  # x0, y0, rgb (h, w, 3), alpha (h, w) uint8 in 0..255


@dataclass(frozen=True)
class Row:
    """One visible person in one frame: id, box (x, y, w, h) clipped to the frame, visibility, view."""

    pid: int
    box: tuple[int, int, int, int]
    visibility: float
    view: str


@dataclass(frozen=True)
class CameraScene:
    """What one camera sees that does not move, and how it is lit."""

    geometry: Geometry
    background: np.ndarray  # (H, W, 3) uint8
    props: tuple[Prop, ...]
    gain: np.ndarray  # (3,) light on the people

    @cached_property
    def prop_layers(self) -> list[tuple[float, Layer]]:
        """Each prop's depth (its base) and its patch with a 0/255 alpha."""
        return [(p.base, (p.x0, p.y0, p.rgb, p.mask.astype(np.uint8) * 255)) for p in self.props]


def _clip(
    x0: int, y0: int, shape: tuple[int, ...], size: tuple[int, ...]
) -> tuple[int, int, int, int] | None:
    """The part of an (h, w) patch at (x0, y0) inside an (H, W) frame, as (xa, ya, xb, yb), or None."""
    h, w = shape[:2]
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, size[1]), min(y0 + h, size[0])
    return None if xa >= xb or ya >= yb else (xa, ya, xb, yb)


def composite(frame: np.ndarray, layer: Layer) -> None:
    """Blend a patch over the frame in place by its alpha (integer arithmetic, so bytes are reproducible)."""
    x0, y0, rgb, alpha = layer
    bounds = _clip(x0, y0, alpha.shape, frame.shape)
    if bounds is None:
        return
    xa, ya, xb, yb = bounds
    a = alpha[ya - y0 : yb - y0, xa - x0 : xb - x0, None].astype(np.uint16)
    src = rgb[ya - y0 : yb - y0, xa - x0 : xb - x0].astype(np.uint16)
    dst = frame[ya:yb, xa:xb].astype(np.uint16)
    frame[ya:yb, xa:xb] = ((src * a + dst * (255 - a) + 127) // 255).astype(np.uint8)


def visibilities(layers: list[Layer], size: tuple[int, int]) -> list[float]:
    """Layers ordered far to near -> the fraction of each box inside the frame and under no nearer mask."""
    covered = np.zeros(size, dtype=bool)
    out = [0.0] * len(layers)
    for i in range(len(layers) - 1, -1, -1):
        x0, y0, _, alpha = layers[i]
        h, w = alpha.shape
        bounds = _clip(x0, y0, alpha.shape, size)
        if bounds is None:
            continue
        xa, ya, xb, yb = bounds
        hidden = int(covered[ya:yb, xa:xb].sum())
        out[i] = ((xb - xa) * (yb - ya) - hidden) / (w * h)
        covered[ya:yb, xa:xb] |= alpha[ya - y0 : yb - y0, xa - x0 : xb - x0] > 0
    return out


def _walkers(
    scene: CameraScene, walks: list[Walk], books: dict[int, SpriteBook], heights: dict[int, float], t: float
) -> list[tuple[Placed, int, str]]:
    """Every walker on the floor at time t, placed, with its id and view."""
    g, out = scene.geometry, []
    for walk in walks:
        if not walk.t0 <= t <= walk.t1:
            continue
        x, z, walked = walk.at(t)
        view, facing = walk.view(x, z)
        sprite = books[walk.pid].get(view, facing, walk.phase(walked, PHASES))
        px, foot = g.project(x, z)
        placed = place(sprite, px, foot, g.focal * heights[walk.pid] / z, scene.gain)
        if placed is not None:
            out.append((placed, walk.pid, view))
    return out


def render_frame(scene: CameraScene, walkers: list[tuple[Placed, int, str]]) -> tuple[np.ndarray, list[Row]]:
    """One frame and its ground truth rows (persons with visibility above zero), from placed walkers."""
    size = scene.background.shape[:2]
    items: list[tuple[tuple[float, int, int], Layer, tuple[int, str] | None]] = []
    for p, pid, view in walkers:
        items.append(((p.foot, 0, pid), (p.x0, p.y0, p.rgb, p.alpha), (pid, view)))
    for k, (base, layer) in enumerate(scene.prop_layers):
        items.append(((base, 1, k), layer, None))
    items.sort(key=lambda item: item[0])
    frame = scene.background.copy()
    for _, layer, _ in items:
        composite(frame, layer)
    rows = []
    for (_, layer, who), seen in zip(
        items, visibilities([layer for _, layer, _ in items], size), strict=True
    ):
        x0, y0, _, alpha = layer
        bounds, seen = _clip(x0, y0, alpha.shape, size), round(seen, 4)  # gt.txt's precision
        if who is None or bounds is None or seen == 0.0:
            continue
        xa, ya, xb, yb = bounds
        rows.append(Row(who[0], (xa, ya, xb - xa, yb - ya), seen, who[1]))
    rows.sort(key=lambda r: r.pid)
    return frame, rows


def render_camera(
    scene: CameraScene,
    walks: list[Walk],
    books: dict[int, SpriteBook],
    heights: dict[int, float],
    fps: int,
    frames: int,
) -> Iterator[tuple[np.ndarray, list[Row]]]:
    """Frame k (0-based) shows the walks at k / fps seconds; yields each frame with its rows."""
    for k in range(frames):
        yield render_frame(scene, _walkers(scene, walks, books, heights, k / fps))
