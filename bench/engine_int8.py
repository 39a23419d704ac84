"""CPU INT8 vs FP32 in ONNX Runtime: image tower speed-up (goal >= 1.5x) and, given a trained bundle and
a dataset, text-to-image R@1 of both on its test split (goal: within 1 point).

Run: `python -m bench.engine_int8 [--model BUNDLE|PS-Tiny|ViT-B-16] [--dataset DIR --split test]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.engine_common import check_clock, exported_bundle, seconds_interleaved, table
from engine import load_encoder
from engine.encoder import Encoder
from engine.loader import available_cores

GOAL_SPEEDUP, GOAL_R1_POINTS = 1.5, 1.0


def recall_at_1(encoder: Encoder, dataset: Path, split: str) -> dict[str, float]:
    """Text-to-image retrieval metrics of an encoder on a dataset split (the training evaluation)."""
    from training.data.load import load_dataset
    from training.evaluate import evaluate

    data = load_dataset(dataset).split(split)
    metrics = evaluate(encoder.encode_images, encoder.encode_texts, data, batch_size=encoder.max_batch)
    return {k: round(float(metrics[k]), 2) for k in ("R1", "R5", "mAP")}


def run(
    model: str = "ViT-B-16",
    dataset: Path | None = None,
    split: str = "test",
    batch_sizes: tuple[int, ...] = (1, 8),
    repeats: int = 5,
    threads: int | None = None,
    workdir: Path | None = None,
    clock: str = "wall",
) -> dict[str, Any]:
    """Image tower latency per batch at FP32 and INT8 side by side; R@1 of both when a dataset is given."""
    threads = threads or available_cores()
    timer = check_clock(clock, threads)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = exported_bundle(model, workdir or Path(tmp), int8=True)
        fp32 = load_encoder(bundle, "onnxruntime", "fp32", "cpu", max(batch_sizes), threads=threads)
        int8 = load_encoder(bundle, "onnxruntime", "int8", "cpu", max(batch_sizes), threads=threads)
        h, w = fp32.spec.image_size
        rows = []
        for batch in batch_sizes:
            pixels = np.random.default_rng(batch).standard_normal((batch, 3, h, w), dtype=np.float32)
            timed = seconds_interleaved(
                {
                    "fp32": lambda x=pixels: fp32.encode_pixels(x),
                    "int8": lambda x=pixels: int8.encode_pixels(x),
                },
                repeats,
                timer,
            )
            fp32_s, int8_s = timed["fp32"], timed["int8"]
            cosine = float((fp32.encode_pixels(pixels) * int8.encode_pixels(pixels)).sum(1).min())
            rows.append({
                "batch": batch, "fp32_ms": round(fp32_s * 1e3, 1), "int8_ms": round(int8_s * 1e3, 1),
                "speedup": round(fp32_s / int8_s, 2), "min_cosine": round(cosine, 5),
            })  # fmt: skip
        result: dict[str, Any] = {"model": str(model), "threads": threads, "clock": clock, "rows": rows}
        result["speedup_goal_met"] = min(r["speedup"] for r in rows) >= GOAL_SPEEDUP
        if dataset is not None:
            before, after = recall_at_1(fp32, dataset, split), recall_at_1(int8, dataset, split)
            result["retrieval"] = {"dataset": str(dataset), "split": split, "fp32": before, "int8": after}
            result["r1_goal_met"] = abs(before["R1"] - after["R1"]) <= GOAL_R1_POINTS
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model", default="ViT-B-16", help="bundle directory or architecture (random weights)"
    )
    parser.add_argument("--dataset", type=Path, default=None, help="dataset folder for the R@1 comparison")
    parser.add_argument("--split", default="test")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: with --threads 1")
    args = parser.parse_args()
    result = run(
        args.model,
        args.dataset,
        args.split,
        tuple(args.batch_sizes),
        args.repeats,
        args.threads,
        clock=args.clock,
    )
    print(table(result.pop("rows")))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
