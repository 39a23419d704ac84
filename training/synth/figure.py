"""Draw one person with PIL primitives: body by build, hair, headwear, garments by type, shoes and bag.

Coordinates are in units of the person's height P, x from the body's centre line, y from the top of the
head; `Figure` maps them to pixels. Draw order follows depth: what is behind the body first.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import ImageDraw

from training.synth.attributes import RGB, Person

HIP, ANKLE, SHOULDER = 0.49, 0.94, 0.17


@dataclass(frozen=True)
class Pose:
    """Per-image placement and pose: view, facing (+1 right, -1 left), stride, arm swing, box."""

    view: str  # front, back or side
    facing: int
    stride: float  # foot offset in P units
    swing: float  # hand offset in P units
    cx: float  # pixel x of the body centre line
    top: float  # pixel y of the top of the head
    height: float  # pixel height P


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    """Linear blend of two colours, t=0 gives a."""
    return (int(a[0] + (b[0] - a[0]) * t), int(a[1] + (b[1] - a[1]) * t), int(a[2] + (b[2] - a[2]) * t))


def _contrast(rgb: RGB) -> RGB:
    """A dark or light accent that stands out on a colour (stripes, logos)."""
    return (25, 25, 25) if sum(rgb) > 360 else (235, 235, 235)


class Figure:
    """Draws one person on an ImageDraw in person units."""

    def __init__(self, draw: ImageDraw.ImageDraw, person: Person, pose: Pose) -> None:
        self.d, self.p, self.pose = draw, person, pose
        self.a = person.attributes
        self.c = person.colours
        side = pose.view == "side"
        self.sw = 0.125 * person.width * (0.55 if side else 1.0)  # shoulder half-width
        self.ww = 0.105 * person.width * (0.6 if side else 1.0)  # waist half-width

    def xy(self, x: float, y: float) -> tuple[float, float]:
        """Person units -> pixels."""
        return self.pose.cx + x * self.pose.height, self.pose.top + y * self.pose.height

    def poly(self, points: list[tuple[float, float]], fill: RGB) -> None:
        self.d.polygon([self.xy(x, y) for x, y in points], fill=fill)

    def ellipse(self, x: float, y: float, rx: float, ry: float, fill: RGB) -> None:
        (x0, y0), (x1, y1) = self.xy(x - rx, y - ry), self.xy(x + rx, y + ry)
        self.d.ellipse([x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)], fill=fill)

    def line(self, points: list[tuple[float, float]], fill: RGB, width: float) -> None:
        self.d.line(
            [self.xy(x, y) for x, y in points], fill=fill, width=max(1, round(width * self.pose.height))
        )

    def draw(self) -> None:
        """The whole person, back to front."""
        view = self.pose.view
        if view == "front":
            self.long_hair()
            self.hood()
        if view == "side":
            self.backpack()
        self.legs()
        self.shoes()
        self.arms(back=True)
        self.torso()
        self.arms(back=False)
        self.head()
        if view == "back":
            self.long_hair()
            self.hood()
            self.backpack()
        elif view == "front":
            self.backpack_straps()
        self.headwear()
        self.shoulder_bag()
        self.handbag()

    # body and garments -------------------------------------------------------------------------------
    def legs(self) -> None:
        lower, skin = self.a["lower_type"], self.c["skin"]
        hw = 0.045 * self.p.width
        spread = 0.045 * self.p.width if self.pose.view != "side" else 0.0
        cloth = self.c["lower"] if lower in ("trousers", "jeans") else skin
        for sign in (-1, 1):
            foot = sign * (spread + self.pose.stride)
            hip = sign * spread
            self.poly(
                [(hip - hw, HIP), (hip + hw, HIP), (foot + hw * 0.8, ANKLE), (foot - hw * 0.8, ANKLE)], cloth
            )
            if lower == "shorts":
                knee = hip + (foot - hip) * 0.4
                self.poly(
                    [(hip - hw, HIP), (hip + hw, HIP), (knee + hw, 0.67), (knee - hw, 0.67)], self.c["lower"]
                )
            if lower == "jeans":
                self.line(
                    [(hip + sign * hw * 0.7, HIP), (foot + sign * hw * 0.6, ANKLE)],
                    _mix(cloth, (255, 255, 255), 0.35),
                    0.008,
                )
        if lower in ("trousers", "jeans", "shorts"):
            self.poly(
                [(-self.ww, HIP - 0.02), (self.ww, HIP - 0.02), (self.ww, 0.56), (-self.ww, 0.56)],
                self.c["lower"],
            )
        if lower == "skirt":
            flare = self.ww * 1.6
            self.poly(
                [(-self.ww, HIP - 0.02), (self.ww, HIP - 0.02), (flare, 0.69), (-flare, 0.69)],
                self.c["lower"],
            )

    def shoes(self) -> None:
        side = self.pose.view == "side"
        spread = 0.0 if side else 0.045 * self.p.width
        for sign in (-1, 1):
            foot = sign * (spread + self.pose.stride)
            reach = 0.03 * self.pose.facing if side else 0.0
            self.ellipse(foot + reach, ANKLE + 0.025, 0.05 if side else 0.038, 0.024, self.c["shoe"])

    def torso(self) -> None:
        upper, colour = self.a["upper_type"], self.c["upper"]
        bottom = {"coat": 0.72, "dress": 0.46}.get(upper, 0.52)
        widen = 1.25 if upper == "coat" else 1.0
        self.poly(
            [
                (-self.sw, SHOULDER),
                (self.sw, SHOULDER),
                (self.ww * widen, bottom),
                (-self.ww * widen, bottom),
            ],
            colour,
        )
        if upper == "dress":
            flare = self.ww * 1.8
            self.poly([(-self.ww, 0.45), (self.ww, 0.45), (flare, 0.74), (-flare, 0.74)], colour)
        self.pattern(bottom)
        if self.pose.view == "front":
            self.front_details(upper, bottom)

    def pattern(self, bottom: float) -> None:
        pattern, colour = self.a["upper_pattern"], self.c["upper"]
        accent = _contrast(colour)
        if pattern == "striped":
            y = SHOULDER + 0.045
            while y < bottom - 0.01:
                t = (y - SHOULDER) / (bottom - SHOULDER)
                half = self.sw + (self.ww - self.sw) * t
                self.line([(-half, y), (half, y)], accent, 0.016)
                y += 0.05
        elif pattern == "logo" and self.pose.view != "back":
            x = 0.03 * self.pose.facing if self.pose.view == "side" else 0.0
            self.ellipse(x, 0.27, 0.035, 0.03, accent)

    def front_details(self, upper: str, bottom: float) -> None:
        if upper in ("jacket", "coat"):
            self.poly(
                [(-0.03, SHOULDER), (0.03, SHOULDER), (0.022, bottom), (-0.022, bottom)], self.c["inner"]
            )
        elif upper == "shirt":
            collar = _mix(self.c["upper"], (255, 255, 255), 0.45)
            self.poly([(-0.04, SHOULDER), (0.0, 0.21), (0.04, SHOULDER)], collar)
        elif upper == "hoodie":
            self.poly(
                [(-0.05, 0.38), (0.05, 0.38), (0.06, 0.47), (-0.06, 0.47)],
                _mix(self.c["upper"], (0, 0, 0), 0.25),
            )

    def arms(self, back: bool) -> None:
        """Both arms in front/back views (drawn with the front pass); side view: far arm first."""
        view = self.pose.view
        if view != "side" and back:
            return
        sleeve_end = 0.29 if self.a["upper_type"] in ("t-shirt", "dress") else 0.57
        hw = 0.03 * self.p.width
        signs = ((-1,) if back else (1,)) if view == "side" else (-1, 1)
        for sign in signs:
            if view == "side":
                shoulder_x, hand_x = 0.0, sign * self.pose.swing
            else:
                shoulder_x = sign * (self.sw + hw * 0.6)
                hand_x = shoulder_x + sign * 0.02
            t = (sleeve_end - SHOULDER) / (0.6 - SHOULDER)
            elbow_x = shoulder_x + (hand_x - shoulder_x) * t
            self.poly(
                [
                    (shoulder_x - hw, SHOULDER),
                    (shoulder_x + hw, SHOULDER),
                    (hand_x + hw, 0.6),
                    (hand_x - hw, 0.6),
                ],
                self.c["skin"],
            )
            self.poly(
                [
                    (shoulder_x - hw, SHOULDER),
                    (shoulder_x + hw, SHOULDER),
                    (elbow_x + hw, sleeve_end),
                    (elbow_x - hw, sleeve_end),
                ],
                self.c["upper"],
            )
            self.ellipse(hand_x, 0.61, hw * 1.1, 0.018, self.c["skin"])

    # head ----------------------------------------------------------------------------------------------
    def head(self) -> None:
        self.poly(
            [(-0.022, 0.12), (0.022, 0.12), (0.022, SHOULDER + 0.01), (-0.022, SHOULDER + 0.01)],
            self.c["skin"],
        )
        view, hair, skin = self.pose.view, self.c["hair"], self.c["skin"]
        if view == "back":
            self.ellipse(0.0, 0.075, 0.058, 0.068, hair)
            return
        shift = 0.012 * self.pose.facing if view == "side" else 0.0
        self.ellipse(shift, 0.077, 0.055, 0.066, skin)
        if self.a["headwear"] in ("none", "cap"):
            self.ellipse(0.0, 0.045, 0.06, 0.04, hair)  # hair on the crown
        if view == "side":
            self.ellipse(-0.03 * self.pose.facing, 0.07, 0.035, 0.05, hair)

    def long_hair(self) -> None:
        length = self.a["hair_length"]
        if length == "short":
            return
        bottom = 0.16 if length == "medium" else 0.3
        self.poly([(-0.062, 0.06), (0.062, 0.06), (0.07, bottom), (-0.07, bottom)], self.c["hair"])

    def headwear(self) -> None:
        kind, colour = self.a["headwear"], self.c["headwear"]
        facing = self.pose.facing if self.pose.view == "side" else 0
        if kind == "cap":
            self.poly([(-0.06, 0.04), (-0.045, 0.008), (0.045, 0.008), (0.06, 0.04)], colour)
            if self.pose.view != "back":
                brim = 0.045 * facing
                self.poly(
                    [
                        (-0.06 + brim, 0.036),
                        (0.06 + brim * 2, 0.036),
                        (0.06 + brim * 2, 0.05),
                        (-0.06 + brim, 0.05),
                    ],
                    colour,
                )
        elif kind == "beanie":
            self.ellipse(0.0, 0.035, 0.063, 0.035, colour)
            self.poly(
                [(-0.064, 0.035), (0.064, 0.035), (0.064, 0.055), (-0.064, 0.055)],
                _mix(colour, (0, 0, 0), 0.2),
            )
        elif kind == "hat":
            self.poly([(-0.042, -0.01), (0.042, -0.01), (0.05, 0.035), (-0.05, 0.035)], colour)
            self.ellipse(0.0, 0.038, 0.1, 0.013, colour)

    def hood(self) -> None:
        if self.a["upper_type"] != "hoodie":
            return
        y = 0.19 if self.pose.view == "back" else 0.15
        self.ellipse(0.0, y, 0.075, 0.045, _mix(self.c["upper"], (0, 0, 0), 0.15))

    # bags ----------------------------------------------------------------------------------------------
    def backpack(self) -> None:
        if self.a["bag"] != "backpack":
            return
        colour = self.c["bag"]
        if self.pose.view == "back":
            self.poly([(-0.085, 0.2), (0.085, 0.2), (0.09, 0.43), (-0.09, 0.43)], colour)
            self.poly(
                [(-0.06, 0.33), (0.06, 0.33), (0.06, 0.41), (-0.06, 0.41)], _mix(colour, (0, 0, 0), 0.3)
            )
        else:
            x = -self.pose.facing * (self.sw + 0.02)
            self.poly([(x - 0.05, 0.2), (x + 0.05, 0.2), (x + 0.05, 0.43), (x - 0.05, 0.43)], colour)

    def backpack_straps(self) -> None:
        if self.a["bag"] != "backpack":
            return
        for sign in (-1, 1):
            x = sign * self.sw * 0.6
            self.line([(x, SHOULDER), (x * 0.9, 0.4)], self.c["bag"], 0.02)

    def shoulder_bag(self) -> None:
        if self.a["bag"] != "shoulder bag":
            return
        side = 1 if self.pose.view == "front" else -1
        if self.pose.view != "side":
            self.line([(-side * self.sw * 0.8, SHOULDER), (side * self.ww, 0.46)], self.c["bag"], 0.014)
        x = side * (self.ww + 0.03) if self.pose.view != "side" else 0.0
        self.poly([(x - 0.045, 0.44), (x + 0.045, 0.44), (x + 0.045, 0.53), (x - 0.045, 0.53)], self.c["bag"])

    def handbag(self) -> None:
        if self.a["bag"] != "handbag":
            return
        x = self.pose.swing if self.pose.view == "side" else self.sw + 0.05
        self.line([(x - 0.025, 0.6), (x, 0.57), (x + 0.025, 0.6)], self.c["bag"], 0.008)
        self.poly([(x - 0.04, 0.6), (x + 0.04, 0.6), (x + 0.048, 0.69), (x - 0.048, 0.69)], self.c["bag"])
