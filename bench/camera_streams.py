"""Camera streams one CPU core sustains at 10 fps with the demo detector, and an Orin ESTIMATE from FLOPs.

Measured: the process is pinned to one core (sched_setaffinity) and the detector runs on one ONNX
Runtime thread; the CPU time (load-proof: waiting for the core does not count) of detection (letterbox,
graph, decode, NMS), of tracking (ByteTrack, crop quality, crop choice, evidence JPEGs) and of decoding
is taken per frame of the same video at the pipeline's batch. Streams per core = 1 / (10 x cost).
Estimated, not measured: the detector's FLOPs counted from its ONNX graph (bench.onnx_flops), its
graph alone achieving the same share of FP32 peak on an Orin's GPU as on one core here (peak: the best
torch matmul, bench.engine_gflops). Run: `python -m bench.camera_streams`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.camera_common import SceneSpec, first_camera, work_root
from bench.camera_pipeline import VIDEO
from bench.engine_gflops import matmul_peak_gflops
from bench.machine import describe, load_average
from bench.onnx_flops import count
from cameras.sources import SourceOptions, read
from cameras.tracking import CameraTracker, TrackingOptions
from engine.detector.letterbox import letterbox_batch
from engine.detector.onnxruntime_detector import OnnxRuntimeDetector
from engine.detector.spec import DETECTOR_ONNX, DetectorSpec

LABEL = "ESTIMATE from the detector's FLOPs and published GPU figures, not measured on an Orin"


@dataclass(frozen=True)
class Gpu:
    """A Jetson Orin module's GPU: CUDA cores and maximum GPU clock (NVIDIA's module datasheets)."""

    module: str
    cuda_cores: int
    max_ghz: float

    @property
    def fp32_tflops(self) -> float:
        """FP32 peak of the CUDA cores: cores x 2 (one fused multiply-add) x clock."""
        return self.cuda_cores * 2 * self.max_ghz / 1e3


ORIN_GPUS = (
    Gpu("Orin Nano 8GB", 1024, 0.625),
    Gpu("Orin Nano 8GB (Super)", 1024, 1.020),
    Gpu("Orin NX 16GB", 1024, 0.918),
    Gpu("AGX Orin 64GB", 2048, 1.300),
)


@contextmanager
def one_core() -> Iterator[int]:
    """Pin this process (every thread) to one of the cores it may use; the core's number."""
    before = os.sched_getaffinity(0)
    core = min(before)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, before)


def cpu_seconds(fn: Any) -> tuple[Any, float, float]:
    """fn()'s value, its process CPU seconds and wall seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    value = fn()
    return value, time.process_time() - cpu, time.perf_counter() - wall


def per_frame_costs(video: Path, detector: OnnxRuntimeDetector, fps: float, batch: int) -> dict[str, Any]:
    """CPU ms per frame of decoding, detection and tracking, best of two passes each."""
    source = SourceOptions(fps=fps)
    frames, decode_cpu, decode_wall = cpu_seconds(lambda: list(read(str(video), source)))
    _, again, _ = cpu_seconds(lambda: list(read(str(video), source)))
    pixels = [f.pixels for f in frames]

    def detect() -> list[Any]:
        return [box for i in range(0, len(pixels), batch) for box in detector.detect(pixels[i : i + batch])]

    found, detect_cpu, detect_wall = cpu_seconds(detect)
    detect_cpu = min(detect_cpu, cpu_seconds(detect)[1])

    def track() -> int:
        tracker, tracks = CameraTracker("bench", TrackingOptions(fps=fps)), 0
        for frame, boxes in zip(frames, found, strict=True):
            tracks += len(tracker.update(frame, boxes))
        return tracks + len(tracker.flush())

    tracks, track_cpu, track_wall = cpu_seconds(track)
    track_cpu = min(track_cpu, cpu_seconds(track)[1])
    n = len(frames)
    ms = {"decode": min(decode_cpu, again), "detect": detect_cpu, "track_and_crops": track_cpu}
    return {
        "frames": n,
        "detections_per_frame": round(sum(len(b) for b in found) / n, 2),
        "tracks": tracks,
        "cpu_ms_per_frame": {k: round(1e3 * v / n, 3) for k, v in ms.items()},
        "wall_ms_per_frame": {
            k: round(1e3 * v / n, 3)
            for k, v in (("decode", decode_wall), ("detect", detect_wall), ("track_and_crops", track_wall))
        },
    }


def graph_gflops(detector: OnnxRuntimeDetector, flops: int, batch: int, repeats: int = 5) -> float:
    """GFLOP/s of the detector's graph alone on a letterboxed batch (best of repeats)."""
    box = detector.spec.letterbox
    frames = [np.zeros((360, 640, 3), np.uint8)] * batch
    x, _ = letterbox_batch(frames, detector.spec.input_size, box.pad_value, box.center, 0)
    feed = {detector.input_name: np.ascontiguousarray(x, np.float32)}
    detector.session.run(None, feed)
    best = min(cpu_seconds(lambda: detector.session.run(None, feed))[1] for _ in range(repeats))
    return flops * batch / best / 1e9


def orin_estimate(flops_per_frame: int, share: float, fps: float) -> dict[str, Any]:
    """Frames/s and streams at `fps` per module, with the graph at `share` of the GPU's FP32 peak."""
    rows = []
    for gpu in ORIN_GPUS:
        frames_per_s = gpu.fp32_tflops * 1e12 * share / flops_per_frame
        rows.append({
            "module": gpu.module, "cuda_cores": gpu.cuda_cores, "max_gpu_ghz": gpu.max_ghz,
            "fp32_tflops": round(gpu.fp32_tflops, 2),
            "estimated_frames_per_s": round(frames_per_s), "estimated_streams": int(frames_per_s // fps),
            "streams_at_full_peak": int(gpu.fp32_tflops * 1e12 / flops_per_frame // fps),
        })  # fmt: skip
    return {
        "label": LABEL,
        "method": (
            "frames/s = module FP32 peak (CUDA cores x 2 x max GPU clock) x share / detector FLOPs per "
            "frame; share = the graph's GFLOP/s on one core here / one-thread torch matmul peak here; the "
            "detector only (decode on NVDEC, tracking on the CPU cores are not in it); no tensor cores"
        ),
        "share_of_peak": round(share, 3),
        "rows": rows,
    }


def run(
    video: dict[str, Any] | None = None,
    fps: float = 10.0,
    batch: int = 4,
    trained: bool = True,
    workdir: str | Path | None = None,
) -> dict[str, Any]:
    """Per-frame cost on one core, streams per core at `fps`, and the Orin estimate."""
    load_start = load_average()
    spec = SceneSpec(**(video or VIDEO))
    path, directory = first_camera(work_root(workdir), spec, trained)
    flops = count(directory / DETECTOR_ONNX, batch=1)
    with one_core() as core:
        detector = OnnxRuntimeDetector(directory, DetectorSpec.load(directory), "cpu", threads=1, batch=batch)
        costs = per_frame_costs(path, detector, fps, batch)
        achieved = graph_gflops(detector, flops["flops"], batch)
        peak = matmul_peak_gflops(1, clock="cpu")
    cpu = costs["cpu_ms_per_frame"]
    pipeline_ms = cpu["detect"] + cpu["track_and_crops"]
    return {
        "bench": "camera_streams",
        "video": {**spec.__dict__, "size": list(spec.size), "read_fps": fps},
        "detector": {"trained": trained, "batch": batch, "input_size": list(detector.spec.input_size)},
        "core": core,
        **costs,
        "streams_per_core": round(1e3 / (fps * pipeline_ms), 2),
        "streams_per_core_with_decode": round(1e3 / (fps * (pipeline_ms + cpu["decode"])), 2),
        "detector_gflop_per_frame": round(flops["flops"] / 1e9, 4),
        "detector_flops_per_op": flops["per_op"],
        "graph_gflops_one_core": round(achieved, 2),
        "matmul_peak_gflops_one_core": round(peak, 2),
        "orin_estimate": orin_estimate(flops["flops"], min(1.0, achieved / peak), fps),
        "load_average": {"start": load_start, "end": load_average()},
        "machine": describe(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="scenes and the detector, kept")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--untrained", action="store_true", help="an untrained tiny detector (smoke)")
    args = parser.parse_args()
    print(json.dumps(run(None, 10.0, args.batch, not args.untrained, args.workdir), indent=2))
