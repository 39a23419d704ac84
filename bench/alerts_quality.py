"""Alert precision and recall on synthetic scenes whose identities are known, and the default sensitivity.

For a seed: a background scene set of other people (seed + 1000) fills the gallery first; then one text
watchlist per person of the seed's scene set (its first caption, through the text tower); then the
scene's ground-truth tracks arrive through the camera path (service.track_writer.TrackWriter) in the
order a camera would finish them, and the real alert engine scores them. An alert is right when its
track shows the watchlist's person. Precision: right alerts / alerts; recall: the persons' tracks that
alerted / their tracks. The default sensitivity is the one with the best F1 on the calibration seed;
the test seed is then only measured at it (and swept for the record).
`python -m bench.alerts_quality --bundle BUNDLE [--calibrate-seed 1 --test-seed 2]`
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from alerts.calibration import sensitivity_to_q
from alerts.delivery import Deliveries, DeliveryOptions
from alerts.engine import AlertEngine, EngineOptions
from alerts.store import AlertQuery, AlertStore
from alerts.watchlists import QueryKind, WatchlistSpec
from bench.scene_tracks import SceneTrack, scene_tracks
from engine import Encoder, load_encoder
from index import Gallery
from service.track_writer import TrackWriter
from training.synth.scenes import synth_scenes

SENSITIVITIES = (0.0, 0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def scene(work: Path, seed: int, cameras: int, seconds: float) -> tuple[list[SceneTrack], dict[str, Any]]:
    """Render (or reuse) a scene set; its tracks and identities."""
    root = work / f"scenes-{seed}"
    if not (root / "scenes.json").is_file():
        synth_scenes(root, cameras=cameras, seconds=seconds, fps=4, seed=seed, size=(270, 480))
    return scene_tracks(root), json.loads((root / "identities.json").read_text())


class CachedEmbed:
    """The image tower with a memory: every sensitivity pass stores the same crops."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder, self.rows = encoder, {}

    def __call__(self, images: list[Any]) -> np.ndarray:
        keys = [hashlib.sha256(np.asarray(i).tobytes()).hexdigest() for i in images]
        todo = {k: i for k, i in zip(keys, images, strict=True) if k not in self.rows}
        if todo:
            self.rows.update(zip(todo, self.encoder.encode_images(list(todo.values())), strict=True))
        return np.stack([self.rows[k] for k in keys])  # (N, D)


def replay(
    encoder: Encoder,
    embed: CachedEmbed,
    scenes: tuple[list[SceneTrack], list[SceneTrack]],
    queries: dict[int, np.ndarray],
    sensitivity: float,
    floor: float,
) -> dict[str, Any]:
    """One pass: background, watchlists, then the scene through the engine -> counts."""
    background, tracks = scenes
    with (
        tempfile.TemporaryDirectory() as tmp,
        Gallery.open(Path(tmp), encoder.model_id, encoder.embed_dim, use_gpu=False) as gallery,
    ):
        writer = TrackWriter(gallery, embed, "bench")
        for s in background:
            writer(s.track)
        deliveries = Deliveries(gallery.records, AlertStore(gallery.records), DeliveryOptions())
        engine = AlertEngine(
            gallery.records, gallery.model_id, gallery.dim, EngineOptions(floor=floor), deliveries
        )
        person_of = {}
        for person, vector in queries.items():
            spec = WatchlistSpec(
                str(person), QueryKind.DESCRIPTION, vector, encoder.model_id, sensitivity, text=str(person)
            )
            person_of[engine.add_watchlist(spec).id] = person
        track_person = {}
        for s in tracks:
            results = writer(s.track)
            item = gallery.get(results[0].id)
            assert item is not None and item.meta.track is not None
            track_person[item.meta.track.id] = s.person
            while engine.process_once():
                pass
        alerts = engine.store.find(AlertQuery(limit=100_000))
    right = sum(track_person[a.track_id] == person_of[a.watchlist_id] for a in alerts)
    wanted = sum(1 for s in tracks if s.person in queries)
    return {
        "sensitivity": sensitivity,
        "q": round(sensitivity_to_q(sensitivity), 4),
        "alerts": len(alerts),
        "right": right,
        "target_tracks": wanted,
        "precision": right / len(alerts) if alerts else None,
        "recall": right / wanted if wanted else None,
        "persons_found": len(
            {
                person_of[a.watchlist_id]
                for a in alerts
                if track_person[a.track_id] == person_of[a.watchlist_id]
            }
        ),
        "persons": len(queries),
    }


def f1(row: dict[str, Any]) -> float:
    """F1 of one row (0 when nothing alerted)."""
    p, r = row["precision"] or 0.0, row["recall"] or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def run_seed(
    encoder: Encoder, work: Path, seed: int, args: argparse.Namespace, sweep: tuple[float, ...]
) -> dict[str, Any]:
    """Every sensitivity of the sweep on one seed."""
    tracks, identities = scene(work, seed, args.cameras, args.seconds)
    background, _ = scene(work, seed + 1000, args.cameras, args.seconds)
    people = sorted({s.person for s in tracks})
    vectors = encoder.encode_texts([identities[str(p)]["captions"][0] for p in people])
    queries = dict(zip(people, vectors, strict=True))
    embed = CachedEmbed(encoder)
    rows = [replay(encoder, embed, (background, tracks), queries, s, args.floor) for s in sweep]
    for row in rows:
        row["f1"] = f1(row)
    return {"seed": seed, "tracks": len(tracks), "background_tracks": len(background), "rows": rows}


def table(result: dict[str, Any]) -> str:
    """The sweep of each seed and the chosen default."""
    lines = [f"load average {result['load'][0]:.2f}; floor {result['floor']}; model {result['model_id']}"]
    for part in ("calibrate", "test"):
        seed = result[part]
        lines.append(
            f"{part} seed {seed['seed']}: {seed['tracks']} tracks"
            f" after {seed['background_tracks']} background tracks"
        )
        lines.append(
            f"{'sens':>5} {'q':>7} {'alerts':>6} {'precision':>9} {'recall':>6} {'F1':>5} {'persons hit':>11}"
        )
        for r in seed["rows"]:
            p = f"{r['precision']:.3f}" if r["precision"] is not None else "-"
            lines.append(
                f"{r['sensitivity']:>5} {r['q']:>7} {r['alerts']:>6} {p:>9} {r['recall']:>6.3f}"
                f" {r['f1']:>5.3f} {r['persons_found']:>5}/{r['persons']}"
            )
    lines.append(
        f"chosen default sensitivity (best F1 on the calibration seed): {result['default_sensitivity']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Sweep the calibration seed, choose the default, measure the test seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=None, help="where scenes are rendered (reused)")
    parser.add_argument("--calibrate-seed", type=int, default=1)
    parser.add_argument("--test-seed", type=int, default=2)
    parser.add_argument("--cameras", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--floor", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    args = parser.parse_args(argv)
    encoder = load_encoder(args.bundle, backend="torch", device="cpu")
    work = args.work or Path(tempfile.mkdtemp(prefix="alerts-quality-"))
    start = time.perf_counter()
    calibrate = run_seed(encoder, work, args.calibrate_seed, args, SENSITIVITIES)
    best = max(calibrate["rows"], key=f1)["sensitivity"]
    test = run_seed(encoder, work, args.test_seed, args, SENSITIVITIES)
    result = {
        "bench": "alerts_quality", "model_id": encoder.model_id, "floor": args.floor, "load": os.getloadavg(),
        "calibrate": calibrate, "test": test, "default_sensitivity": best,
        "test_at_default": next(r for r in test["rows"] if r["sensitivity"] == best),
        "seconds": round(time.perf_counter() - start, 1),
    }  # fmt: skip
    print(table(result))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
