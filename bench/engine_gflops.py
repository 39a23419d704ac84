"""Achieved GFLOP/s of the image tower per backend against this machine's measured FP32 matmul peak.

FLOPs are counted analytically from the ViT's shapes (patch convolution, every linear layer, the two
attention matmuls; 2 FLOPs per multiply-add; norms and activations left out), because torch's FLOP counter
misses the fused attention path. The peak is the best of several large square torch matmuls on the same
threads. INT8 is reported as effective FP32-equivalent GFLOP/s.
Run: `python -m bench.engine_gflops [--model ViT-B-16|PS-Tiny|BUNDLE] [--batch 8]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from open_clip.model import CLIP

from bench.engine_common import check_clock, exported_bundle, seconds_interleaved, seconds_per_call, table
from engine import load_encoder
from engine.bundle import load_bundle
from engine.loader import available_cores


def image_tower_flops(clip: CLIP, image_size: tuple[int, int]) -> int:
    """FLOPs of one image through an open_clip VisionTransformer (2 per multiply-add)."""
    visual = clip.visual
    conv = visual.conv1.weight  # (W, 3, p, p)
    width, patch = conv.shape[0], conv.shape[2:]
    patches = (image_size[0] // patch[0]) * (image_size[1] // patch[1])
    tokens = patches + 1  # with the class token
    flops = 2 * patches * conv[0].numel() * width
    for block in visual.transformer.resblocks:
        hidden = block.mlp.c_fc.out_features
        flops += 2 * tokens * width * (3 * width + width + 2 * hidden)  # qkv, out, mlp in and out
        flops += 4 * tokens * tokens * width  # q @ k^T and attention @ v
    if visual.proj is not None:
        flops += 2 * visual.proj.shape[0] * visual.proj.shape[1]
    return int(flops)


def matmul_peak_gflops(threads: int, size: int = 2048, repeats: int = 5, clock: str = "wall") -> float:
    """Best FP32 GFLOP/s of a size x size matmul in torch on `threads` threads."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    with torch.inference_mode():
        seconds = seconds_per_call(lambda: torch.mm(a, b), repeats, 2, check_clock(clock, threads))
    return 2 * size**3 / seconds / 1e9


def run(
    model: str = "ViT-B-16",
    batch: int = 8,
    repeats: int = 3,
    threads: int | None = None,
    workdir: Path | None = None,
    clock: str = "wall",
) -> dict[str, Any]:
    """GFLOP/s of torch FP32, ONNX Runtime FP32 and INT8 on one image batch, and the fraction of peak."""
    threads = threads or available_cores()
    timer = check_clock(clock, threads)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = exported_bundle(model, workdir or Path(tmp), int8=True)
        clip, spec = load_bundle(bundle)
        flops = image_tower_flops(clip, spec.image_size)
        del clip
        peak = matmul_peak_gflops(threads, clock=clock)
        pixels = np.random.default_rng(0).standard_normal((batch, 3, *spec.image_size), dtype=np.float32)
        cases = (("torch", "fp32"), ("onnxruntime", "fp32"), ("onnxruntime", "int8"))
        encoders = {f"{b} {p}": load_encoder(bundle, b, p, "cpu", batch, threads=threads) for b, p in cases}
        timed = seconds_interleaved(
            {name: lambda e=encoder: e.encode_pixels(pixels) for name, encoder in encoders.items()},
            repeats,
            timer,
        )
        rows = []
        for name, seconds in timed.items():
            achieved = flops * batch / seconds / 1e9
            rows.append({
                "backend": name, "ms_per_batch": round(seconds * 1e3, 1),
                "gflops": round(achieved, 1), "of_fp32_peak": round(achieved / peak, 2),
            })  # fmt: skip
    return {
        "model": str(model),
        "image_size": list(spec.image_size),
        "gflop_per_image": round(flops / 1e9, 3),
        "batch": batch,
        "threads": threads,
        "clock": clock,
        "matmul_peak_gflops": round(peak, 1),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model", default="ViT-B-16", help="architecture (random weights) or bundle directory"
    )
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: with --threads 1")
    args = parser.parse_args()
    result = run(args.model, args.batch, args.repeats, args.threads, clock=args.clock)
    print(table(result.pop("rows")))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
