"""A static camera scene: a pinhole camera over a flat floor, its back wall with doors, and the props.

The camera looks along +Z from `cam_height` metres above the floor; a floor point (X, Z) lands at
x = cx + f X / Z, y = horizon + f cam_height / Z, and a person of height h there is f h / Z pixels tall,
so farther people are smaller and higher in the frame. Props are drawn once, hard-edged (binary mask).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from PIL import Image, ImageDraw

from training.synth.vocab import Domain

RGB = tuple[int, int, int]


class Background(StrEnum):
    """The kinds of place a synthetic camera watches."""

    STREET = "street"
    CORRIDOR = "corridor"
    LOBBY = "lobby"
    NIGHT = "night"


@dataclass(frozen=True)
class Geometry:
    """Where the camera is: image size, focal length and horizon (pixels), height and back wall (metres)."""

    width: int
    height: int
    focal: float
    horizon: float
    cam_height: float
    wall: float  # depth of the back wall

    def project(self, x: float, z: float) -> tuple[float, float]:
        """Floor point (X, Z) in metres -> pixel (x, y)."""
        return self.width / 2 + self.focal * x / z, self.horizon + self.focal * self.cam_height / z

    def half_width(self, z: float) -> float:
        """Metres visible either side of the centre line at depth Z."""
        return self.width / 2 * z / self.focal

    def nearest(self) -> float:
        """The nearest depth at which a person's feet are still inside the frame (with a small margin)."""
        return 1.08 * self.focal * self.cam_height / (self.height - self.horizon)


@dataclass(frozen=True)
class Prop:
    """A static thing on the floor, drawn in front of whoever stands behind it."""

    kind: str
    x0: int  # top-left pixel of `rgb` in the frame
    y0: int
    rgb: np.ndarray  # (h, w, 3) uint8
    mask: np.ndarray  # (h, w) bool: the pixels it covers
    base: float  # pixel y where it stands on the floor (its depth)


@dataclass(frozen=True)
class Look:
    """A background's palette: wall, floor, accent and window colours."""

    wall: RGB
    floor: RGB
    accent: RGB
    window: RGB


LOOKS = {
    Background.STREET: Look((170, 160, 150), (120, 120, 118), (95, 70, 60), (150, 180, 200)),
    Background.CORRIDOR: Look((205, 195, 170), (150, 140, 125), (120, 95, 70), (230, 225, 200)),
    Background.LOBBY: Look((215, 215, 220), (185, 180, 170), (90, 110, 130), (175, 205, 225)),
    Background.NIGHT: Look((45, 45, 60), (55, 55, 62), (30, 30, 40), (200, 180, 90)),
}
PROPS = {
    Background.STREET: ("lamp", "bench", "bin", "plant"),
    Background.CORRIDOR: ("pillar", "plant", "bench"),
    Background.LOBBY: ("counter", "pillar", "plant", "bench"),
    Background.NIGHT: ("lamp", "bench", "bin"),
}
PROP_SIZE = {  # width, height in metres
    "lamp": (0.16, 4.2),
    "bench": (1.6, 0.85),
    "bin": (0.5, 0.95),
    "plant": (0.75, 1.35),
    "pillar": (0.55, 6.0),
    "counter": (2.6, 1.1),
}
DOOR = (1.1, 2.2)  # width, height in metres
LIGHT = {Domain.SOURCE: (1.0, 1.0, 1.0), Domain.TARGET: (0.72, 0.78, 0.95)}  # per-channel gain


def sample_geometry(size: tuple[int, int], rng: np.random.Generator) -> Geometry:
    """A camera placement for a (H, W) frame: a few metres up, looking slightly down a room or street."""
    h, w = size
    horizon = rng.uniform(0.2, 0.32) * h
    focal = rng.uniform(0.95, 1.15) * w
    cam_height = rng.uniform(2.5, 3.2)
    wall_line = horizon + rng.uniform(0.3, 0.4) * (h - horizon)  # where the back wall meets the floor
    return Geometry(w, h, focal, horizon, cam_height, wall=focal * cam_height / (wall_line - horizon))


def sample_doors(geometry: Geometry, rng: np.random.Generator) -> tuple[float, ...]:
    """Lateral positions (metres) of one or two doors in the back wall, inside the view."""
    reach = 0.75 * geometry.half_width(geometry.wall)
    return tuple(float(x) for x in rng.uniform(-reach, reach, size=int(rng.integers(1, 3))))


def _lit(rgb: tuple[int, ...] | np.ndarray, gain: np.ndarray) -> RGB:
    """A colour under the domain's light."""
    r, g, b = (int(v) for v in np.clip(np.asarray(rgb) * gain, 0, 255))
    return r, g, b


def paint_background(
    kind: Background, geometry: Geometry, doors: tuple[float, ...], domain: Domain, rng: np.random.Generator
) -> np.ndarray:
    """The empty scene, lit for the domain: wall, floor tiles towards the vanishing point, doors, windows."""
    g, look = geometry, LOOKS[kind]
    gain = np.asarray(LIGHT[domain])
    image = Image.new("RGB", (g.width, g.height), _lit(look.wall, gain))
    d = ImageDraw.Draw(image)
    wall_y = g.project(0.0, g.wall)[1]
    d.rectangle([0, wall_y, g.width, g.height], fill=_lit(look.floor, gain))
    line = _lit(np.asarray(look.floor) * 0.8, gain)
    bottom = g.focal * g.cam_height / (g.height - g.horizon)
    for k in range(-12, 13):
        d.line([g.project(1.5 * k, g.wall), g.project(1.5 * k, bottom)], fill=line, width=1)
    z = bottom
    while z < g.wall and kind is not Background.STREET:
        d.line([(0, g.project(0, z)[1]), (g.width, g.project(0, z)[1])], fill=line, width=1)
        z *= 1.35
    _wall_features(d, kind, g, gain, rng)
    for x in doors:
        (x0, y1), (x1, _) = g.project(x - DOOR[0] / 2, g.wall), g.project(x + DOOR[0] / 2, g.wall)
        d.rectangle([x0, y1 - g.focal * DOOR[1] / g.wall, x1, y1], fill=_lit(look.accent, gain))
    pixels = np.asarray(image, np.float32) + rng.normal(0.0, 2.5, size=(g.height, g.width, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _wall_features(
    d: ImageDraw.ImageDraw, kind: Background, g: Geometry, gain: np.ndarray, rng: np.random.Generator
) -> None:
    """Windows on a facade, ceiling lights in a corridor, glass panels in a lobby, lit windows at night."""
    look, wall_y = LOOKS[kind], g.project(0.0, g.wall)[1]
    step = g.focal * 1.8 / g.wall  # a window bay every 1.8 m
    if kind in (Background.STREET, Background.NIGHT):
        sky = (20, 22, 40) if kind is Background.NIGHT else (185, 200, 215)
        d.rectangle([0, 0, g.width, wall_y * 0.18], fill=_lit(sky, gain))
        for row in range(3):
            y = wall_y * (0.25 + 0.22 * row)
            for x in np.arange(rng.uniform(0, step), g.width, step):
                lit = kind is not Background.NIGHT or rng.random() < 0.5
                colour = look.window if lit else look.accent
                d.rectangle([x, y, x + step * 0.55, y + wall_y * 0.12], fill=_lit(colour, gain))
    elif kind is Background.CORRIDOR:
        for x in np.arange(rng.uniform(0, step), g.width, step * 1.5):
            d.ellipse([x, 2, x + step * 0.8, 2 + wall_y * 0.08], fill=_lit(look.window, gain))
    else:
        for x in np.arange(rng.uniform(0, step), g.width, step):
            d.rectangle([x, wall_y * 0.2, x + step * 0.8, wall_y * 0.75], fill=_lit(look.window, gain))


def _draw_prop(d: ImageDraw.ImageDraw, kind: str, box: tuple[float, float, float, float], rgb: RGB) -> None:
    """One prop's shape inside its pixel box (left, top, right, bottom)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    dark = (rgb[0] // 2, rgb[1] // 2, rgb[2] // 2)
    if kind == "lamp":
        d.rectangle(box, fill=dark)
        d.ellipse([x0 - 2 * w, y0, x1 + 2 * w, y0 + 3 * w], fill=(235, 225, 170))
    elif kind == "bench":
        d.rectangle([x0, y0, x1, y0 + 0.35 * h], fill=rgb)  # backrest
        d.rectangle([x0, y0 + 0.5 * h, x1, y0 + 0.62 * h], fill=rgb)  # seat
        for x in (x0 + 0.08 * w, x1 - 0.14 * w):
            d.rectangle([x, y0 + 0.62 * h, x + 0.06 * w, y1], fill=dark)
    elif kind == "plant":
        d.rectangle([x0 + 0.25 * w, y0 + 0.6 * h, x1 - 0.25 * w, y1], fill=dark)  # pot
        d.ellipse([x0, y0, x1, y0 + 0.7 * h], fill=(50, 120, 55))
    elif kind == "counter":
        d.rectangle(box, fill=rgb)
        d.rectangle([x0, y0, x1, y0 + 0.1 * h], fill=dark)
    else:  # pillar, bin
        d.rectangle(box, fill=rgb)
        d.rectangle([x0, y0, x0 + 0.2 * w, y1], fill=dark)


def sample_props(
    kind: Background, geometry: Geometry, domain: Domain, rng: np.random.Generator
) -> tuple[Prop, ...]:
    """Two to four props of the background's kind, standing between the nearest depth and the back wall."""
    g, gain, props = geometry, np.asarray(LIGHT[domain]), []
    for _ in range(int(rng.integers(2, 5))):
        name = PROPS[kind][int(rng.integers(len(PROPS[kind])))]
        z = rng.uniform(g.nearest(), g.wall - 1.0)
        x = rng.uniform(-0.8, 0.8) * g.half_width(z)
        width, height = PROP_SIZE[name]
        (left, base), (right, _) = g.project(x - width / 2, z), g.project(x + width / 2, z)
        layer = Image.new("RGBA", (g.width, g.height), (0, 0, 0, 0))
        colour = _lit(rng.integers(60, 200, size=3), gain)
        _draw_prop(ImageDraw.Draw(layer), name, (left, base - g.focal * height / z, right, base), colour)
        bbox = layer.getbbox()
        if bbox is None:
            continue
        rgba = np.asarray(layer.crop(bbox))
        props.append(
            Prop(name, bbox[0], bbox[1], np.ascontiguousarray(rgba[..., :3]), rgba[..., 3] > 0, base)
        )
    return tuple(props)
