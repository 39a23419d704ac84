"""Train the demo's tiny person detector on synthetic scenes, export it, and score AP50 on held-out scenes.

The held-out score runs the exported graph through the serving Detector (ONNX Runtime, letterbox, decode,
NMS), at a low score threshold so the whole precision-recall curve counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import BaseModel, Field, field_validator

from engine.detector.onnxruntime_detector import OnnxRuntimeDetector
from engine.detector.spec import DetectorSpec
from training.detector.ap import average_precision
from training.detector.augment import augment
from training.detector.dataset import PAD_VALUE, HeldOut, TrainFrames, held_out, split_cameras, train_frames
from training.detector.export import export_detector
from training.detector.loss import detection_loss
from training.detector.model import TinyDetector

AP_SCORE_THRESHOLD = 0.01


class DetectorTrainConfig(BaseModel):
    """Settings of `person-search train-detector`; the defaults are the demo's."""

    input_size: tuple[int, int] = (288, 512)  # 640x360 frames at 0.8, no padding
    width: int = Field(default=48, ge=8, description="channels of the stride-8 layers")
    epochs: int = Field(default=14, ge=1)
    batch_size: int = Field(default=16, ge=1)
    lr: float = Field(default=4e-3, gt=0)
    weight_decay: float = Field(default=5e-4, ge=0)
    seed: int = 0
    frame_step: int = Field(
        default=4, ge=1, description="train on every k-th frame (neighbours are near copies)"
    )
    frames_per_camera: int = Field(default=300, ge=1)
    holdout_step: int = Field(default=5, ge=1)
    holdout_frames: int = Field(default=120, ge=1, description="held-out frames scored per camera")
    min_visibility: float = Field(
        default=0.3, ge=0, le=1, description="persons less visible are ignore regions"
    )
    threads: int = Field(default=0, ge=0, description="torch threads; 0 keeps torch's default")

    @field_validator("input_size")
    @classmethod
    def _multiple_of_16(cls, size: tuple[int, int]) -> tuple[int, int]:
        if min(size) < 16 or size[0] % 16 or size[1] % 16:
            raise ValueError(f"input_size {size} must be multiples of 16 (the detector's coarsest stride)")
        return size


@dataclass
class DetectorTrainResult:
    """What a run produced: the spec written, the held-out AP50 and the training time."""

    spec: DetectorSpec
    ap50: float
    seconds: float


def _epoch(
    model: TinyDetector,
    data: TrainFrames,
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    batch: int,
    gen: torch.Generator,
) -> dict[str, float]:
    """One pass over the frames in random order; mean loss parts."""
    model.train()
    order = torch.randperm(len(data.images), generator=gen)
    totals = {"loss": 0.0, "score": 0.0, "box": 0.0}
    steps = 0
    for start in range(0, len(order), batch):
        pick = order[start : start + batch].tolist()
        x, boxes, ignore = augment(
            data.images[pick],
            [data.boxes[i] for i in pick],
            [data.ignore[i] for i in pick],
            PAD_VALUE / 255,
            gen,
        )
        loss, parts = detection_loss(model(x), boxes, ignore)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        totals["loss"] += loss.item()
        for k, v in parts.items():
            totals[k] += v
        steps += 1
    return {k: round(v / max(steps, 1), 4) for k, v in totals.items()}


def score(out: Path, spec: DetectorSpec, held: HeldOut) -> float:
    """AP50 of the exported detector on the held-out frames, through the serving code."""
    loose = spec.model_copy(update={"score_threshold": AP_SCORE_THRESHOLD})
    detector = OnnxRuntimeDetector(out, loose, "cpu", threads=torch.get_num_threads(), batch=8)
    return average_precision(detector.detect(held.frames), held.boxes, held.ignore)


def train_detector(
    scenes: Path,
    out: Path,
    config: DetectorTrainConfig | None = None,
    holdout: Path | None = None,
    echo: Callable[[str], None] = print,
) -> DetectorTrainResult:
    """Train on SCENES (less the held-out camera), write OUT/detector.onnx + detector.json, report AP50."""
    config = config or DetectorTrainConfig()
    start = time.perf_counter()
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    gen = torch.Generator().manual_seed(config.seed)
    train_cams, test_cams = split_cameras(Path(scenes), holdout)
    data = train_frames(
        train_cams, config.input_size, config.frame_step, config.frames_per_camera, config.min_visibility
    )
    held = held_out(test_cams, config.holdout_step, config.holdout_frames, config.min_visibility)
    names = [c.name for c in train_cams], [c.name for c in test_cams]
    echo(f"train: {len(data.images)} frames of {names[0]}; held out: {len(held.frames)} frames of {names[1]}")
    model = TinyDetector(config.width)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * -(-len(data.images) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.lr, total_steps=steps, pct_start=0.15)
    history = []
    for epoch in range(config.epochs):
        parts = _epoch(model, data, optimiser, schedule, config.batch_size, gen)
        history.append(parts)
        echo(f"epoch {epoch + 1}/{config.epochs}: {parts} ({time.perf_counter() - start:.0f} s)")
    provenance = {
        "made_by": "person-search train-detector",
        "scenes": Path(scenes).name,
        "held_out_scenes": Path(holdout or scenes).name,
        "train_cameras": [c.name for c in train_cams],
        "held_out_cameras": [c.name for c in test_cams],
        "train_frames": len(data.images),
        "config": config.model_dump(mode="json"),
        "history": history,
    }
    spec = export_detector(model, Path(out), config.input_size, provenance)
    ap50 = score(Path(out), spec, held)
    seconds = time.perf_counter() - start
    metrics = {
        "ap50_held_out": round(ap50, 4),
        "held_out_frames": len(held.frames),
        "seconds": round(seconds, 1),
    }
    spec = spec.model_copy(update={"provenance": {**spec.provenance, "metrics": metrics}})
    spec.save(Path(out))
    echo(f"held-out AP50 {ap50:.3f} on {len(held.frames)} frames; wrote {Path(out)}")
    return DetectorTrainResult(spec, ap50, seconds)
