"""Cross-camera search by example on synthetic scenes: a person's crop on camera A finds their track on B.

The scenes run once through the camera pipeline (CameraRunner: decode, a detector, ByteTrack, best crops);
the tracks it hands on go through the service's camera sink (TrackWriter) into one gallery per model,
each labelled with the ground-truth person most of its crops show (IoU >= 0.5). Then, for every track on
a camera A whose person also has a track on another camera B, the track's best crop is the example of a
like-item search grouped by track (service.examples, the code behind `POST /search {"like": ...,
"group_by": "track"}`) restricted to camera B: a hit when one of the person's tracks on B is in the top 5.
Chance is the probability that 5 of B's tracks drawn at random include one of theirs (5 / tracks on B
when they have one there). Run: `python -m bench.cross_camera [--detector truth|trained]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import comb
from pathlib import Path
from typing import Any

import numpy as np

from bench.camera_common import (
    SceneSpec,
    demo_clip,
    demo_detector,
    ground_truth,
    identity_of,
    scenes,
    videos,
    work_root,
)
from bench.machine import describe, load_average
from cameras.pipeline import CameraRunner
from cameras.sources import SourceOptions
from cameras.tracking import TrackingOptions
from cameras.types import PersonDetector, Track
from index import Gallery, SearchFilters
from service.examples import example_vector, grouped_search
from service.schemas import LikeIn
from service.track_writer import Embed, TrackWriter

TOP_K = 5
SCENES = {"cameras": 4, "seconds": 60.0, "fps": 5, "seed": 1}  # a seed neither demo model was trained on
Search = Callable[[int, str], list[int]]  # (example item id, camera B) -> track ids, best first


@dataclass(frozen=True)
class SeenTrack:
    """A track the pipeline handed on, with the person most of its crops show (None: nobody)."""

    track: Track
    person: int | None


@dataclass(frozen=True)
class StoredTrack:
    """A gallery track: its id, camera, person and the item id of its best crop (the example)."""

    track_id: int
    camera: str
    person: int | None
    example: int


@dataclass(frozen=True)
class Query:
    """One example from camera A searched on camera B, where its person has the `wanted` tracks."""

    example: int
    person: int
    camera: str
    wanted: frozenset[int]
    tracks_there: int

    @property
    def chance(self) -> float:
        """The chance that TOP_K tracks of camera B drawn at random include one of the wanted ones."""
        n, m = self.tracks_there, len(self.wanted)
        return 1.0 if n <= TOP_K else 1.0 - comb(n - m, TOP_K) / comb(n, TOP_K)


def read_tracks(
    scene_dir: Path, detector_for: Callable[[str], PersonDetector], fps: float, crops_per_track: int = 3
) -> list[SeenTrack]:
    """Every camera's video through CameraRunner; each finished track labelled through the ground truth."""
    options = TrackingOptions(fps=fps, crops_per_track=crops_per_track, frame_jpeg_width=320)
    seen = []
    for camera, video in videos(scene_dir):
        truth, tracks = ground_truth(scene_dir, camera), []
        source = SourceOptions(fps=fps)
        CameraRunner(camera, str(video), detector_for(camera), tracks.append, source, options).run(
            threading.Event()
        )
        for track in tracks:
            shown = Counter(identity_of(c.box, c.frame_index, truth) for c in track.crops)
            shown.pop(None, None)
            seen.append(SeenTrack(track, shown.most_common(1)[0][0] if shown else None))
    return seen


def store(seen: Sequence[SeenTrack], gallery: Gallery, embed: Embed) -> list[StoredTrack]:
    """The tracks into the gallery through the camera sink; each with its best-quality crop's item id."""
    writer, out = TrackWriter(gallery, embed, "scenes"), []
    for s in seen:
        ids = [r.id for r in writer(s.track)]
        if not ids:
            continue
        best = int(np.argmax([c.quality for c in s.track.crops]))
        item = gallery.get(ids[best])
        assert item is not None and item.meta.track is not None and item.meta.track.id is not None
        out.append(StoredTrack(item.meta.track.id, s.track.camera, s.person, ids[best]))
    return out


def queries(stored: Sequence[StoredTrack]) -> list[Query]:
    """One query per (track on A, other camera B) where the track's person also has a track on B."""
    cameras = sorted({s.camera for s in stored})
    on = {c: [s for s in stored if s.camera == c] for c in cameras}
    out = []
    for source in (s for s in stored if s.person is not None):
        for camera in (c for c in cameras if c != source.camera):
            wanted = frozenset(t.track_id for t in on[camera] if t.person == source.person)
            if wanted:
                out.append(Query(source.example, source.person, camera, wanted, len(on[camera])))
    return out


def measure(asked: Sequence[Query], search: Search) -> dict[str, Any]:
    """Share of queries with one of the person's tracks on B in the top TOP_K, next to chance."""
    hits = [bool(set(search(q.example, q.camera)[:TOP_K]) & q.wanted) for q in asked]
    n = max(len(asked), 1)
    return {
        "queries": len(asked),
        "persons": len({q.person for q in asked}),
        "hits": sum(hits),
        "rate": round(sum(hits) / n, 4),
        "chance": round(sum(q.chance for q in asked) / n, 4),
    }


def like_search(gallery: Gallery) -> Search:
    """The service's like-item search, grouped by track, on one camera: the track ids it returns."""

    def search(item_id: int, camera: str) -> list[int]:
        vector, _ = example_vector(gallery, LikeIn(item_id=item_id))
        found = grouped_search(gallery, vector, TOP_K, SearchFilters(cameras=frozenset({camera})), None)
        return [t.id for h in found if (t := h.item.meta.track) is not None and t.id is not None]

    return search


def score_model(bundle: Path, seen: Sequence[SeenTrack], work: Path) -> dict[str, Any]:
    """One model: a fresh gallery of the tracks, then every cross-camera query through like_search."""
    from engine import load_encoder

    encoder = load_encoder(bundle, "onnxruntime")
    with (
        tempfile.TemporaryDirectory(dir=work) as tmp,
        Gallery.open(Path(tmp), encoder.model_id, encoder.embed_dim, use_gpu=False) as gallery,
    ):
        stored = store(seen, gallery, encoder.encode_images)
        result = measure(queries(stored), like_search(gallery))
    return {"model_id": encoder.model_id, "tracks": len(stored), **result}


def run(
    scene: dict[str, Any] | None = None,
    detector: str = "truth",
    trained_clip: bool = True,
    workdir: str | Path | None = None,
) -> dict[str, Any]:
    """The rate for the demo CLIP (and an untrained PS-Micro beside it) against chance; detector is
    'truth' (the ground truth's boxes), 'trained' (the demo detector) or 'untrained'."""
    from bench.camera_crops import TruthDetector
    from engine.detector import load_detector

    load_start = load_average()
    root = work_root(workdir)
    spec = SceneSpec(**(scene or SCENES))
    data = scenes(root, spec)
    model = None
    if detector != "truth":
        model = load_detector(demo_detector(root, detector == "trained"), "onnxruntime")
    seen = read_tracks(data, lambda cam: model or TruthDetector(ground_truth(data, cam)), spec.fps)
    models = {"untrained PS-Micro": demo_clip(root, trained=False)}
    if trained_clip:
        models = {"demo (trained)": demo_clip(root, trained=True), **models}
    rows = {name: score_model(bundle, seen, root) for name, bundle in models.items()}
    return {
        "bench": "cross_camera",
        "scenes": {**spec.__dict__, "size": list(spec.size)},
        "detector": detector,
        "top_k": TOP_K,
        "tracks": len(seen),
        "unlabelled_tracks": sum(s.person is None for s in seen),
        "models": rows,
        "load_average": {"start": load_start, "end": load_average()},
        "machine": describe(),
    }


def table(result: dict[str, Any]) -> str:
    """The rates side by side, with the load they were measured under."""
    lines = [
        f"{result['tracks']} tracks on {result['scenes']['cameras']} cameras ({result['detector']} detector);"
        f" load average {result['load_average']['start']} -> {result['load_average']['end']}",
        f"{'model':<20} {'queries':>7} {'persons':>7} {'top-5 rate':>10} {'chance':>7} {'x chance':>8}",
    ]
    for name, r in result["models"].items():
        ratio = r["rate"] / r["chance"] if r["chance"] else float("nan")
        counts = f"{r['queries']:>7} {r['persons']:>7}"
        lines.append(f"{name:<20} {counts} {r['rate']:>10.3f} {r['chance']:>7.3f} {ratio:>8.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="scenes and the models, kept")
    parser.add_argument("--detector", choices=["truth", "trained", "untrained"], default="truth")
    parser.add_argument("--untrained-only", action="store_true", help="skip training the demo CLIP")
    args = parser.parse_args()
    out = run(None, args.detector, not args.untrained_only, args.workdir)
    print(json.dumps(out, indent=2))
    print(table(out))
