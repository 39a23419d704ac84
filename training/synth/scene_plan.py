"""Who walks where and when: straight walks across each camera's floor, and identities that move on.

Walks start and end outside the frame (beyond a side edge) or at a door in the back wall. People arrive
on every camera at random intervals; an arrival is often someone who left another camera a few seconds
earlier, so the same identity shows up on several cameras at other times. The plan starts before the
recording does (`PREROLL`), so the first frames already have people mid-walk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from training.synth.scene_layout import Geometry

PREROLL = 8.0  # seconds simulated before frame 1
MARGIN = 0.7  # metres beyond the frame edge where side walks start and end (a person is fully outside)
STEP_CYCLE = 1.4  # metres walked per full gait cycle (two steps)
ARRIVALS = (1.5, 4.5)  # seconds between arrivals on one camera
TRANSIT = (1.0, 6.0)  # seconds between leaving one camera and reaching the next
REAPPEAR = 0.6  # chance that an arrival is someone already seen elsewhere, when anyone is free
MAX_VISITS = 3  # cameras one identity walks through at most


@dataclass(frozen=True)
class Walk:
    """One identity walking a straight line across one camera's floor at constant speed."""

    pid: int
    camera: int
    t0: float  # seconds on the shared clock when it is at `start`
    start: tuple[float, float]  # floor point (X, Z) in metres
    end: tuple[float, float]
    speed: float  # metres per second

    @property
    def length(self) -> float:
        return math.dist(self.start, self.end)

    @property
    def t1(self) -> float:
        """When it reaches `end`."""
        return self.t0 + self.length / self.speed

    def at(self, t: float) -> tuple[float, float, float]:
        """Floor point (X, Z) at time t and the distance walked so far."""
        walked = min(max(t - self.t0, 0.0), self.length / self.speed) * self.speed
        u = walked / self.length
        x = self.start[0] + (self.end[0] - self.start[0]) * u
        z = self.start[1] + (self.end[1] - self.start[1]) * u
        return x, z, walked

    def view(self, x: float, z: float) -> tuple[str, int]:
        """View and facing at (X, Z): front when walking at the camera, back when away, else side."""
        dx, dz = (self.end[0] - self.start[0]) / self.length, (self.end[1] - self.start[1]) / self.length
        ray = math.hypot(x, z)
        towards = (dx * x + dz * z) / ray  # cosine between the heading and the line of sight
        facing = 1 if dx * z - x * dz >= 0 else -1  # the sign of the motion's image x velocity
        if towards < -0.6:
            return "front", facing
        if towards > 0.6:
            return "back", facing
        return "side", facing

    def phase(self, walked: float, phases: int) -> int:
        """Which of `phases` gait poses the walker is in after `walked` metres."""
        return int(walked / STEP_CYCLE * phases) % phases


def _depth(near: float, far: float, u: float) -> float:
    """The depth a fraction u of the way up the floor in the image (u=0 nearest): uniform in 1/Z."""
    return 1.0 / (1.0 / near + u * (1.0 / far - 1.0 / near))


def sample_path(
    geometry: Geometry, doors: tuple[float, ...], rng: np.random.Generator
) -> tuple[tuple[float, float], tuple[float, float]]:
    """A walk's start and end floor points: across the view, or between a door and a side edge."""
    g = geometry
    near, far = g.nearest(), g.wall - 0.6
    side = 1 if rng.random() < 0.5 else -1
    if doors and rng.random() < 0.35:
        door = (doors[int(rng.integers(len(doors)))], g.wall - 0.3)
        z = _depth(near, far, rng.uniform(0.0, 0.4))
        edge = (side * (g.half_width(z) + MARGIN), z)
        return (door, edge) if rng.random() < 0.5 else (edge, door)
    z1, z2 = _depth(near, far, rng.uniform(0, 1)), _depth(near, far, rng.uniform(0, 1))
    z2 = float(np.clip(z2, z1 / 1.4, z1 * 1.4))  # across the view, drifting a little nearer or farther
    return (-side * (g.half_width(z1) + MARGIN), z1), (side * (g.half_width(z2) + MARGIN), z2)


def _arrivals(cameras: int, seconds: float, rng: np.random.Generator) -> list[tuple[float, int]]:
    """(time, camera) of every arrival from -PREROLL to the end, in time order."""
    times = []
    for cam in range(cameras):
        t = -PREROLL + rng.uniform(0.0, ARRIVALS[1])
        while t < seconds:
            times.append((float(t), cam))
            t += rng.uniform(*ARRIVALS)
    return sorted(times)


def plan_walks(
    geometries: list[Geometry], doors: list[tuple[float, ...]], seconds: float, rng: np.random.Generator
) -> list[Walk]:
    """Every walk on every camera; identities are 1..N and re-appear on other cameras after a transit."""
    walks: list[Walk] = []
    free_at: dict[int, float] = {}  # pid -> when it can arrive somewhere else
    last_camera: dict[int, int] = {}
    visits: dict[int, int] = {}
    for t, cam in _arrivals(len(geometries), seconds, rng):
        free = [
            p for p, when in free_at.items() if when <= t and last_camera[p] != cam and visits[p] < MAX_VISITS
        ]
        if free and rng.random() < REAPPEAR:
            pid = min(free, key=lambda p: (free_at[p], p))
        else:
            pid = len(free_at) + 1
            visits[pid] = 0
        start, end = sample_path(geometries[cam], doors[cam], rng)
        walk = Walk(pid, cam, t, start, end, float(rng.uniform(1.1, 1.6)))
        walks.append(walk)
        free_at[pid] = walk.t1 + rng.uniform(*TRANSIT)
        last_camera[pid] = cam
        visits[pid] += 1
    return walks
