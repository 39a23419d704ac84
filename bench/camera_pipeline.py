"""A camera pipeline's frames/s against decoding alone and the detector alone, on the same video.

Side by side in one run, interleaved over repeats (best of each): decoding alone is `cameras.sources.read`
(PyAV decode, the fps gate, the luma digest and RGB conversion of the kept frames); the detector alone runs
on those same kept frames, already in memory, in batches of the pipeline's size; the pipeline is
`CameraRunner` end to end (decode thread, detection, ByteTrack, crop choice, evidence JPEGs). Goal: the
pipeline keeps at least 0.85 of the slower of the two. Run: `python -m bench.camera_pipeline`.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.camera_common import SceneSpec, first_camera, work_root
from bench.machine import describe, load_average
from cameras.pipeline import CameraRunner, RunOptions
from cameras.sources import SourceOptions, read
from cameras.tracking import TrackingOptions
from cameras.types import PersonDetector, Track
from engine.detector import load_detector

GOAL = 0.85
VIDEO = {"cameras": 1, "seconds": 30.0, "fps": 25, "seed": 5}  # a 25 fps camera, read at 10 fps


def decode_alone(video: Path, source: SourceOptions) -> tuple[list[np.ndarray], float]:
    """The kept frames' pixels and the seconds decoding took."""
    start = time.perf_counter()
    frames = [frame.pixels for frame in read(str(video), source)]
    return frames, time.perf_counter() - start


def detector_alone(detector: PersonDetector, frames: list[np.ndarray], batch: int) -> float:
    """Seconds to detect on every frame, `batch` at a time (as the pipeline calls it)."""
    start = time.perf_counter()
    for i in range(0, len(frames), batch):
        detector.detect(frames[i : i + batch])
    return time.perf_counter() - start


def pipeline(
    video: Path, detector: PersonDetector, source: SourceOptions, batch: int
) -> tuple[int, float, int]:
    """(frames through the pipeline, seconds, tracks handed on) for one read of the video."""
    tracks: list[Track] = []
    tracking = TrackingOptions(fps=source.fps)
    runner = CameraRunner("bench", str(video), detector, tracks.append, source, tracking, RunOptions(batch))
    start = time.perf_counter()
    runner.run(threading.Event())
    return runner.stats.frames_out, time.perf_counter() - start, len(tracks)


def measure(
    video: Path, detector_dir: Path, threads: int, batch: int, fps: float, repeats: int
) -> dict[str, Any]:
    """Frames/s of the three, interleaved, best of `repeats`, with the detector on `threads` threads."""
    detector = load_detector(detector_dir, "onnxruntime", device="cpu", batch=batch, threads=threads)
    source = SourceOptions(fps=fps)
    frames, _ = decode_alone(video, source)
    detector_alone(detector, frames[: 2 * batch], batch)  # warm-up
    best = {"decode": float("inf"), "detector": float("inf"), "pipeline": float("inf")}
    cores = dict.fromkeys(best, 0.0)  # CPU seconds / wall seconds of each one's best run
    tracks = processed = 0
    for _ in range(repeats):
        for name, fn in (
            ("decode", lambda: (0, decode_alone(video, source)[1], 0)),
            ("detector", lambda: (0, detector_alone(detector, frames, batch), 0)),
            ("pipeline", lambda: pipeline(video, detector, source, batch)),
        ):
            cpu = time.process_time()
            done, seconds, found = fn()
            if seconds < best[name]:
                best[name], cores[name] = seconds, (time.process_time() - cpu) / seconds
            if name == "pipeline":
                processed, tracks = done, found
    if processed != len(frames):
        raise RuntimeError(f"the pipeline processed {processed} frames, decoding kept {len(frames)}")
    rates = {name: round(len(frames) / s, 1) for name, s in best.items()}
    slowest = min(rates["decode"], rates["detector"])
    return {
        "detector_threads": threads,
        "frames_per_s": rates,
        "slowest_alone": "decode" if rates["decode"] <= rates["detector"] else "detector",
        "pipeline_over_slowest": round(rates["pipeline"] / slowest, 3),
        "cores_used": {name: round(c, 2) for name, c in cores.items()},  # < the machine's: others' load
        "goal_met": rates["pipeline"] / slowest >= GOAL,
        "tracks": tracks,
    }


def run(
    video: dict[str, Any] | None = None,
    fps: float = 10.0,
    batch: int = 4,
    detector_threads: tuple[int, ...] = (1, 2),
    repeats: int = 3,
    trained: bool = True,
    workdir: str | Path | None = None,
) -> dict[str, Any]:
    """The pipeline against decode alone and detector alone at each detector thread count."""
    load_start = load_average()
    spec = SceneSpec(**(video or VIDEO))
    path, detector_dir = first_camera(work_root(workdir), spec, trained)
    rows = [measure(path, detector_dir, t, batch, fps, repeats) for t in detector_threads]
    return {
        "bench": "camera_pipeline",
        "video": {**spec.__dict__, "size": list(spec.size), "read_fps": fps},
        "detector": {"trained": trained, "batch": batch},
        "goal": GOAL,
        "rows": rows,
        "load_average": {"start": load_start, "end": load_average()},
        "machine": describe(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="scenes and the detector, kept")
    parser.add_argument("--threads", default="1,2", help="detector threads to measure, comma-separated")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--untrained", action="store_true", help="an untrained tiny detector (smoke)")
    args = parser.parse_args()
    threads = tuple(int(t) for t in args.threads.split(","))
    result = run(None, 10.0, args.batch, threads, args.repeats, not args.untrained, args.workdir)
    print(json.dumps(result, indent=2))
