"""Images/s and text queries/s per backend and batch size, against the naive baseline, in one run.

Baseline: open_clip eager, `model.encode_image` on one crop at a time and `model.encode_text` on one query
padded to the full context, as the known Jetson CLIP projects run it. Every backend present here runs the
same crops and queries. Run: `python -m bench.engine_throughput [--model PS-Tiny|ViT-B-16|BUNDLE]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from bench.engine_common import check_clock, exported_bundle, queries, seconds_interleaved, table
from engine import load_encoder
from engine.bundle import load_bundle
from engine.encoder import Encoder
from engine.loader import available_cores
from engine.tokenizer import Tokenizer


def backends_here() -> list[tuple[str, str, str]]:
    """(backend, precision, device) to measure: torch and ONNX Runtime always, CUDA where present."""
    cases = [("torch", "fp32", "cpu"), ("onnxruntime", "fp32", "cpu"), ("onnxruntime", "int8", "cpu")]
    if "CUDAExecutionProvider" in ort.get_available_providers():
        cases.append(("onnxruntime", "fp32", "cuda"))
    if torch.cuda.is_available():
        cases.append(("torch", "fp16", "cuda"))
    return cases


def baseline_calls(bundle: Path, pixels: np.ndarray, texts: list[str]) -> dict[str, Callable[[], object]]:
    """open_clip eager, one item at a time, each text padded to the full context."""
    model, spec = load_bundle(bundle)
    tokenizer = Tokenizer(context_length=spec.context_length)
    padded = [torch.from_numpy(tokenizer([t], pad_to=spec.context_length)[0]) for t in texts]
    images = [torch.from_numpy(p[None]) for p in pixels]

    def encode_images() -> object:
        with torch.inference_mode():
            return [model.encode_image(x, normalize=True) for x in images]

    def encode_texts() -> object:
        with torch.inference_mode():
            return [model.encode_text(ids, normalize=True) for ids in padded]

    return {"baseline image": encode_images, "baseline text": encode_texts}


def encoder_calls(
    name: str, encoder: Encoder, pixels: np.ndarray, texts: list[str], batch: int
) -> dict[str, Callable[[], object]]:
    """All crops in chunks of `batch`, all texts in chunks of `batch` (tokenized inside, as in serving)."""
    chunks = [pixels[i : i + batch] for i in range(0, len(pixels), batch)]
    text_chunks = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    return {
        f"{name} b{batch} image": lambda: [encoder.encode_pixels(c) for c in chunks],
        f"{name} b{batch} text": lambda: [encoder.encode_texts(c) for c in text_chunks],
    }


def run(
    model: str = "PS-Tiny",
    batch_sizes: tuple[int, ...] = (1, 8, 32),
    images: int = 32,
    texts: int = 32,
    repeats: int = 3,
    threads: int | None = None,
    workdir: Path | None = None,
    clock: str = "wall",
) -> dict[str, Any]:
    """Time the baseline and every backend x batch in interleaved rounds; ratios are to the baseline."""
    threads = threads or available_cores()
    timer = check_clock(clock, threads)
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = exported_bundle(model, workdir or Path(tmp))
        h, w = load_bundle(bundle)[1].image_size
        pixels = np.random.default_rng(0).standard_normal((images, 3, h, w), dtype=np.float32)
        descriptions = queries(texts)
        calls = baseline_calls(bundle, pixels, descriptions)
        cases = backends_here()
        for backend, precision, device in cases:
            encoder = load_encoder(bundle, backend, precision, device, max(batch_sizes), threads=threads)
            for batch in batch_sizes:
                calls.update(
                    encoder_calls(f"{backend} {precision} {device}", encoder, pixels, descriptions, batch)
                )
        timed = seconds_interleaved(calls, repeats, timer)
    base_images, base_texts = images / timed["baseline image"], texts / timed["baseline text"]
    rows = []
    for backend, precision, device in cases:
        for batch in batch_sizes:
            key = f"{backend} {precision} {device} b{batch}"
            per_image, per_text = images / timed[f"{key} image"], texts / timed[f"{key} text"]
            rows.append({
                "backend": backend, "precision": precision, "device": device, "batch": batch,
                "images_per_s": round(per_image, 1), "image_speedup": round(per_image / base_images, 2),
                "queries_per_s": round(per_text, 1), "text_speedup": round(per_text / base_texts, 2),
            })  # fmt: skip
    return {
        "model": str(model),
        "threads": threads,
        "clock": clock,
        "baseline_open_clip_eager": {
            "images_per_s": round(base_images, 1),
            "queries_per_s": round(base_texts, 1),
        },
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model", default="PS-Tiny", help="architecture (random weights) or bundle directory"
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--texts", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: with --threads 1")
    args = parser.parse_args()
    result = run(
        args.model,
        tuple(args.batch_sizes),
        args.images,
        args.texts,
        args.repeats,
        args.threads,
        clock=args.clock,
    )
    print(table(result.pop("rows")))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
