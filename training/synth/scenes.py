"""Synthetic camera scenes: several cameras, the same identities walking through them, with ground truth.

Every camera, identity and the walk plan has its own generator seeded from (seed, domain, ...), so a
scene set is byte-identical for a seed. Person ids are renumbered 1..N by first appearance (frame, then
camera) and are the same on every camera. The layout on disk is described in scene_write.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from training.synth.attributes import Person, sample_person
from training.synth.captions import caption
from training.synth.scene_layout import (
    LIGHT,
    Background,
    paint_background,
    sample_doors,
    sample_geometry,
    sample_props,
)
from training.synth.scene_plan import Walk, plan_walks
from training.synth.scene_render import CameraScene, Row, render_camera
from training.synth.scene_sprites import SpriteBook
from training.synth.scene_write import VideoWriter, appearance, iso, write_json, write_sequence
from training.synth.vocab import Domain, domain_code

START = datetime(2026, 1, 5, 8, 0, 0, tzinfo=UTC)  # every camera's first frame, on one shared clock
CAPTIONS = 3
STATURE = {"man": (1.68, 1.9), "woman": (1.56, 1.78)}  # metres
FIRST_BACKGROUND = {Domain.SOURCE: 0, Domain.TARGET: 3}  # cam-0 is a street by day, or a night street
MIN_SIZE = (48, 64)  # (H, W): room for a person a few pixels tall at the back wall


def check(cameras: int, seconds: float, fps: int, size: tuple[int, int]) -> int:
    """The number of frames per camera, or a ValueError naming the bad argument."""
    if cameras < 1:
        raise ValueError(f"cameras must be at least 1, got {cameras}")
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    if fps < 1:
        raise ValueError(f"fps must be at least 1, got {fps}")
    height, width = size
    if height < MIN_SIZE[0] or width < MIN_SIZE[1] or height % 2 or width % 2:
        raise ValueError(f"frame size {width}x{height} must be even (H.264 yuv420p) and at least 64x48")
    frames = round(seconds * fps)
    if frames < 1:
        raise ValueError(f"{seconds} s at {fps} fps is less than one frame")
    return frames


def build_scene(
    index: int, domain: Domain, size: tuple[int, int], seed: int
) -> tuple[Background, CameraScene, tuple[float, ...]]:
    """Camera `index`: its background kind, static scene and door positions."""
    rng = np.random.default_rng([seed, domain_code(domain), 1, index])
    kinds = list(Background)
    kind = kinds[(index + FIRST_BACKGROUND[domain]) % len(kinds)]
    geometry = sample_geometry(size, rng)
    doors = sample_doors(geometry, rng)
    background = paint_background(kind, geometry, doors, domain, rng)
    props = sample_props(kind, geometry, domain, rng)
    return kind, CameraScene(geometry, background, props, np.asarray(LIGHT[domain])), doors


def renumber(rows: list[list[list[Row]]]) -> dict[int, int]:
    """Plan id -> 1..N in order of first appearance (frame, then camera)."""
    first: dict[int, tuple[int, int]] = {}
    for cam, frames in enumerate(rows):
        for k, frame in enumerate(frames):
            for r in frame:
                first[r.pid] = min(first.get(r.pid, (k, cam)), (k, cam))
    return {pid: n for n, pid in enumerate(sorted(first, key=lambda p: (first[p], p)), start=1)}


@dataclass(frozen=True)
class SceneSet:
    """Everything a scene set is rendered from: the cameras, the walks and each identity's sprites."""

    domain: Domain
    seed: int
    fps: int
    frames: int  # per camera
    size: tuple[int, int]  # (H, W)
    kinds: tuple[Background, ...]
    cameras: tuple[CameraScene, ...]
    walks: tuple[Walk, ...]
    people: dict[int, Person]
    heights: dict[int, float]  # metres
    books: dict[int, SpriteBook]

    def render(self, cam: int) -> Iterator[tuple[np.ndarray, list[Row]]]:
        """Camera `cam`'s frames (H, W, 3) uint8 with their rows, ids as planned (before renumbering)."""
        mine = [w for w in self.walks if w.camera == cam]
        return render_camera(self.cameras[cam], mine, self.books, self.heights, self.fps, self.frames)


def prepare(
    cameras: int, seconds: float, fps: int, seed: int, domain: Domain | str, size: tuple[int, int]
) -> SceneSet:
    """Check the arguments, build every camera's scene, plan the walks and sample the identities."""
    domain = Domain(domain)
    frames = check(cameras, seconds, fps, size)
    built = [build_scene(i, domain, size, seed) for i in range(cameras)]
    plan_rng = np.random.default_rng([seed, domain_code(domain), 0])
    walks = plan_walks([s.geometry for _, s, _ in built], [d for _, _, d in built], frames / fps, plan_rng)
    people, heights, books = {}, {}, {}
    for pid in sorted({w.pid for w in walks}):
        rng = np.random.default_rng([seed, domain_code(domain), 2, pid])
        people[pid] = sample_person(rng)
        heights[pid] = float(rng.uniform(*STATURE[people[pid].attributes["gender"]]))
        books[pid] = SpriteBook(people[pid])
    kinds = tuple(k for k, _, _ in built)
    scenes = tuple(s for _, s, _ in built)
    return SceneSet(domain, seed, fps, frames, size, kinds, scenes, tuple(walks), people, heights, books)


def _identities(s: SceneSet, rows: list[list[list[Row]]]) -> dict[str, Any]:
    """identities.json: captions, attributes and one appearance per walk that was seen."""
    new, fps = renumber(rows), s.fps
    seen: dict[tuple[int, int], list[int]] = {}  # (camera, plan id) -> 0-based frames visible
    views: dict[int, list[tuple[int, str]]] = {}
    for cam, frames in enumerate(rows):
        for k, frame in enumerate(frames):
            for r in frame:
                seen.setdefault((cam, r.pid), []).append(k)
                views.setdefault(r.pid, []).append((k, r.view))
    out: dict[str, Any] = {}
    for pid in sorted(new, key=new.__getitem__):
        spans = []
        for w in (w for w in s.walks if w.pid == pid):
            during = [k + 1 for k in seen.get((w.camera, pid), []) if w.t0 <= k / fps <= w.t1]
            if during:
                spans.append(appearance(f"cam-{w.camera}", during, START, fps))
        order = list(dict.fromkeys(v for _, v in sorted(views[pid])))
        rng = np.random.default_rng([s.seed, domain_code(s.domain), 3, pid])
        attributes = s.people[pid].attributes
        texts = [caption(attributes, order[i % len(order)], s.domain, rng) for i in range(CAPTIONS)]
        out[str(new[pid])] = {
            "captions": texts,
            "attributes": attributes,
            "appearances": sorted(spans, key=lambda s: (s["first_frame"], s["camera"])),
        }
    return out


def _scenes_json(s: SceneSet, seconds: float) -> dict[str, Any]:
    """scenes.json: how the set was made and what each camera recorded."""
    return {
        "seed": s.seed,
        "domain": str(s.domain),
        "fps": s.fps,
        "width": s.size[1],
        "height": s.size[0],
        "seconds": seconds,
        "cameras": [
            {
                "name": f"cam-{cam}",
                "background": str(kind),
                "video": f"cam-{cam}.mp4",
                "sequence": f"cam-{cam}",
                "start_time": iso(START, 1, s.fps),
                "frames": s.frames,
            }
            for cam, kind in enumerate(s.kinds)
        ],
    }


def synth_scenes(
    out: Path,
    cameras: int,
    seconds: float,
    fps: int,
    seed: int,
    domain: Domain | str = Domain.SOURCE,
    size: tuple[int, int] = (360, 640),
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Render `cameras` videos of `seconds` at `fps` with ground truth into `out`; returns scenes.json."""
    s = prepare(cameras, seconds, fps, seed, domain, size)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[list[list[Row]]] = []
    for cam in range(cameras):
        rows.append([])
        with VideoWriter(out / f"cam-{cam}.mp4", fps, size, START) as video:
            for frame, visible in s.render(cam):
                video.write(frame)
                rows[cam].append(visible)
                if progress is not None:
                    progress(1)
    write_json(out / "identities.json", _identities(s, rows))
    new = renumber(rows)
    for cam, frame_rows in enumerate(rows):
        renamed = [
            sorted((dataclasses.replace(r, pid=new[r.pid]) for r in f), key=lambda r: r.pid)
            for f in frame_rows
        ]
        write_sequence(out / f"cam-{cam}", fps, s.frames, size, renamed)
    write_json(out / "scenes.json", _scenes_json(s, seconds))
    return out / "scenes.json"
