"""Person tracks cut from a synthetic scene set's ground truth: what a perfect detector and tracker would
hand the gallery (each appearance of a person on a camera is one track of a few crops)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import av
import numpy as np
from PIL import Image

from cameras.types import Crop, Track

FRAME_WIDTH = 320  # evidence frames are downscaled to this width, as cameras.frame_jpeg_width does


@dataclass
class SceneTrack:
    """One appearance of a known person, as the camera pipeline would emit it."""

    person: int
    track: Track


def _chosen(rows: np.ndarray, per_track: int, min_height: float) -> np.ndarray:
    """Up to per_track ground-truth rows of one appearance, evenly spread, well visible and not tiny."""
    good = rows[(rows[:, 8] >= 0.6) & (rows[:, 5] >= min_height)]
    if not len(good):
        return good
    return good[np.unique(np.linspace(0, len(good) - 1, per_track).round().astype(int))]


def _frames(video: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """The 1-based frames of a video that are wanted, as RGB arrays."""
    out: dict[int, np.ndarray] = {}
    with av.open(str(video)) as container:
        for k, frame in enumerate(container.decode(video=0), start=1):
            if k in wanted:
                out[k] = frame.to_ndarray(format="rgb24")
    return out


def _crop(image: np.ndarray, row: np.ndarray, when: datetime) -> Crop | None:
    """One ground-truth box of a frame as a track crop with its evidence frame."""
    x, y, w, h = row[2:6]
    x1, y1 = max(0, int(x)), max(0, int(y))
    x2, y2 = min(image.shape[1], int(x + w)), min(image.shape[0], int(y + h))
    if x2 - x1 < 8 or y2 - y1 < 8:
        return None
    scale = min(1.0, FRAME_WIDTH / image.shape[1])
    out = io.BytesIO()
    small = Image.fromarray(image).resize((round(image.shape[1] * scale), round(image.shape[0] * scale)))
    small.save(out, format="JPEG", quality=85)
    box = (float(x1), float(y1), float(x2), float(y2))
    return Crop(image[y1:y2, x1:x2].copy(), box, when, int(row[0]) - 1, float(row[8]), out.getvalue(), scale)


def scene_tracks(root: Path, per_track: int = 3, min_height: float = 24) -> list[SceneTrack]:
    """Every appearance in a scene set with at least one usable crop, in order of last sighting (when a
    camera would finish the track and store it)."""
    scenes = json.loads((root / "scenes.json").read_text())
    identities = json.loads((root / "identities.json").read_text())
    fps, found = scenes["fps"], []
    for camera in scenes["cameras"]:
        name, start = camera["name"], datetime.fromisoformat(camera["start_time"])
        gt = np.loadtxt(root / camera["sequence"] / "gt" / "gt.txt", delimiter=",", ndmin=2)
        plans = []
        for pid, person in identities.items():
            for span in (a for a in person["appearances"] if a["camera"] == name):
                lo, hi = span["first_frame"], span["last_frame"]
                rows = gt[(gt[:, 1] == int(pid)) & (gt[:, 0] >= lo) & (gt[:, 0] <= hi)]
                plans.append((int(pid), lo, hi, _chosen(rows, per_track, min_height)))
        frames = _frames(root / camera["video"], {int(r[0]) for *_, rows in plans for r in rows})

        def at(frame: float, s: datetime = start) -> datetime:
            return s + timedelta(seconds=(frame - 1) / fps)

        for pid, lo, hi, rows in plans:
            crops = [c for r in rows if (c := _crop(frames[int(r[0])], r, at(r[0]))) is not None]
            if crops:
                track = Track(name, len(found) + 1, at(lo), at(hi), hi - lo + 1, crops)
                found.append(SceneTrack(pid, track))
    return sorted(found, key=lambda s: (s.track.last_seen, s.track.camera))
