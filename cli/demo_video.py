"""The demo's camera stages: scene videos, the tiny detector, the videos into the gallery, one query.

Each stage reuses what an earlier run finished: scenes and the detector are written beside their final
place and renamed into it when complete, so Ctrl-C never leaves a half-written one to be reused.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from cli.demo_stages import DemoPaths, DemoPlan, Echo
from cli.video_ingest import VideoSummary

SCENES_FPS = 10
INGESTED = "videos.json"  # in the gallery directory, once every video is stored


def _partial(out: Path) -> Path:
    """An empty sibling of `out` to write into before it is complete."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    return partial


def _finish(partial: Path, out: Path) -> None:
    """Put a complete `partial` in place of `out` (an unfinished one from an earlier run is replaced)."""
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)


def render_scenes(out: Path, cameras: int, seconds: float, seed: int, echo: Echo) -> None:
    """Synthetic target-domain camera videos with ground truth, unless `out` already holds them."""
    from tqdm import tqdm

    from training.synth.scenes import check, synth_scenes

    if (out / "scenes.json").is_file():
        echo(f"reusing the scenes in {out}")
        return
    partial = _partial(out)
    frames = check(cameras, seconds, SCENES_FPS, (360, 640))
    with tqdm(total=cameras * frames, unit="frame", desc=f"synth-scenes seed {seed}") as bar:
        synth_scenes(partial, cameras, seconds, SCENES_FPS, seed, "target", progress=bar.update)
    _finish(partial, out)


def detector_ap50(directory: Path) -> float | None:
    """The held-out AP50 a trained detector recorded, or None when it is not there (or unfinished)."""
    try:
        spec = json.loads((directory / "detector.json").read_text())
        return float(spec["provenance"]["metrics"]["ap50_held_out"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def train_detector(paths: DemoPaths, plan: DemoPlan, echo: Echo) -> float:
    """Train the tiny detector on one seed's scenes, held out on the demo's videos; its AP50."""
    from training.detector.train import DetectorTrainConfig
    from training.detector.train import train_detector as run

    done = detector_ap50(paths.detector)
    if done is not None:
        echo(f"reusing the detector in {paths.detector} (held-out AP50 {done:.3f})")
        return done
    partial = _partial(paths.detector)
    config = DetectorTrainConfig(epochs=plan.detector_epochs, seed=plan.seed)

    def say(line: str) -> None:
        echo(line)

    result = run(paths.detector_scenes, partial, config, holdout=paths.scenes, echo=say)
    _finish(partial, paths.detector)
    return result.ap50


def ingest_videos(bundle: Path, paths: DemoPaths, plan: DemoPlan, echo: Echo) -> None:
    """The demo's videos through the camera pipeline into the gallery as cameras cam-0, cam-1, ..."""
    from tqdm import tqdm

    from cli.video_ingest import VideoOptions, embed_in_batches, ingest_video
    from engine import load_encoder
    from engine.loader import available_cores
    from index import Gallery
    from service.components import detector_from_settings
    from service.settings import CameraSettings

    marker = paths.gallery / INGESTED
    if marker.is_file():
        echo(f"reusing the video crops in {paths.gallery} (listed in {marker.name})")
        return
    cameras = CameraSettings(detector=paths.detector, detector_threads=available_cores())
    detector, options = detector_from_settings(cameras), VideoOptions.of(cameras)
    assert detector is not None  # the settings name a detector
    encoder = load_encoder(bundle)
    summaries: list[VideoSummary] = []
    with Gallery.open(paths.gallery, encoder.model_id, encoder.embed_dim) as gallery:
        for video in scene_videos(paths.scenes)[: plan.videos]:
            with tqdm(unit="frame", desc=video.name) as bar:
                summary = ingest_video(
                    video, video.stem, detector, gallery, embed_in_batches(encoder.encode_images, 32),
                    options, lambda stats: bar.update(stats.frames_out - bar.n),
                )  # fmt: skip
            echo(summary.line())
            if summary.error is not None:
                raise RuntimeError(f"the demo's own video failed: {summary.error}")
            summaries.append(summary)
    marker.write_text(json.dumps([{**asdict(s), "video": s.video.name} for s in summaries], indent=1))


def scene_videos(scenes: Path) -> list[Path]:
    """The videos of a scenes directory, in camera order."""
    listed = json.loads((scenes / "scenes.json").read_text())["cameras"]
    return [scenes / camera["video"] for camera in listed]


@dataclass(frozen=True)
class VideoQuery:
    """A description of someone the videos show, and where that person's crops ranked for it."""

    person: str
    caption: str
    cameras: list[str]
    rank: int | None  # 1-based among the video crops; None when none of the person's crops came back
    searched: int  # video crops in the gallery
    item_id: int | None  # the person's best-ranked crop


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two x1, y1, x2, y2 boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def _ground_truth(sequence: Path) -> dict[int, list[tuple[str, tuple[float, ...]]]]:
    """MOTChallenge gt.txt -> frame (1-based) -> [(person id, 0-based x1, y1, x2, y2)]."""
    rows: dict[int, list[tuple[str, tuple[float, ...]]]] = {}
    for line in (sequence / "gt" / "gt.txt").read_text().splitlines():
        frame, pid, x, y, w, h = line.split(",")[:6]
        x1, y1 = float(x) - 1, float(y) - 1
        rows.setdefault(int(frame), []).append((pid, (x1, y1, x1 + float(w), y1 + float(h))))
    return rows


class SceneTruth:
    """Who a stored video crop shows, from the scenes' ground truth (its camera, time and box)."""

    def __init__(self, scenes: Path, frame_jpeg_width: int = 640) -> None:
        meta = json.loads((scenes / "scenes.json").read_text())
        self.fps = float(meta["fps"])
        self.scale = min(1.0, frame_jpeg_width / float(meta["width"]))  # evidence-frame pixels per pixel
        self.cameras = {
            c["name"]: (datetime.fromisoformat(c["start_time"]), _ground_truth(scenes / c["sequence"]))
            for c in meta["cameras"]
        }

    def person(self, camera: str | None, at: datetime | None, box: tuple[float, ...] | None) -> str | None:
        """The person id whose ground-truth box overlaps the crop's box most (IoU >= 0.5), or None."""
        if camera not in self.cameras or at is None or box is None:
            return None
        start, truth = self.cameras[camera]
        frame = round((at - start).total_seconds() * self.fps) + 1
        unscaled = tuple(v / self.scale for v in box)
        best = max(truth.get(frame, []), key=lambda row: _iou(row[1], unscaled), default=None)
        return best[0] if best is not None and _iou(best[1], unscaled) >= 0.5 else None


def video_query(bundle: Path, paths: DemoPaths) -> tuple[VideoQuery | None, int]:
    """Query with the first caption of the person with most stored crops; their rank, and the gallery size."""
    from collections import Counter

    import numpy as np

    from engine import load_encoder
    from index import Gallery, SearchFilters

    truth, identities = SceneTruth(paths.scenes), json.loads((paths.scenes / "identities.json").read_text())
    encoder = load_encoder(bundle)
    with Gallery.open(paths.gallery, encoder.model_id, encoder.embed_dim) as gallery:
        size = len(gallery)
        cameras = sorted(set(gallery.cameras()) & set(truth.cameras))
        items = [i for c in cameras for i in gallery.list(0, size, camera=c)]
        who = {i.id: truth.person(i.meta.camera, i.meta.captured_at, i.meta.box) for i in items}
        counts = Counter(p for p in who.values() if p is not None and p in identities)
        if not counts:
            return None, size
        person = min(counts, key=lambda p: (-counts[p], int(p)))
        caption = identities[person]["captions"][0]
        query = np.asarray(encoder.encode_texts([caption])[0])
        hits = gallery.search(query, len(items), filters=SearchFilters(cameras=frozenset(cameras)))
    found = next((h for h in hits if who.get(h.item.id) == person), None)
    rank, item = (found.rank, found.item.id) if found else (None, None)
    return VideoQuery(person, caption, cameras, rank, len(items), item), size


def query_lines(base_url: str, query: VideoQuery | None, ap50: float) -> list[str]:
    """What the banner says about the videos: the detector's AP50, a query and where its person ranked."""
    lines = [f"person detector: held-out AP50 {ap50:.3f} on the demo's scene videos"]
    if query is None:
        return [*lines, "no crop from the videos could be matched to a person of the scenes"]
    params = urlencode([("q", query.caption), ("k", 5), *(("camera", c) for c in query.cameras)])
    if query.rank is None:
        where = "none of their crops came back"
    else:
        top = "in" if query.rank <= 5 else "not in"
        where = f"rank {query.rank} of {query.searched} video crops: {top} the top 5"
    lines += [
        f"someone from the videos: person {query.person}, described as {query.caption!r}",
        f"  their best crop: {where}",
        f"  curl -s '{base_url}/search?{params}'",
    ]
    if query.item_id is not None:
        lines.append(f"  curl -s -o frame.jpg {base_url}/gallery/{query.item_id}/frame  # evidence, boxed")
    return lines
