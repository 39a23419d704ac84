"""Text tower latency by query length (ONNX Runtime or torch): real token length vs padded to the context.

The exported text graph has a dynamic length, so a 15-word query runs on its ~20 tokens instead of 77;
the goal is >= 2x for that query. Both runs use the same session in the same process.
Run: `python -m bench.engine_text_length [--model ViT-B-16|PS-Tiny|BUNDLE] [--backend onnxruntime|torch]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.engine_common import check_clock, exported_bundle, query, seconds_interleaved, table
from engine import load_encoder
from engine.loader import available_cores

GOAL_WORDS, GOAL_SPEEDUP = 15, 2.0


def run(
    model: str = "ViT-B-16",
    word_counts: tuple[int, ...] = (3, 8, 15, 30),
    repeats: int = 20,
    threads: int | None = None,
    workdir: Path | None = None,
    backend: str = "onnxruntime",
    clock: str = "wall",
) -> dict[str, Any]:
    """Milliseconds per single query at its real length and padded to the context, per word count."""
    threads = threads or available_cores()
    timer = check_clock(clock, threads)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = exported_bundle(model, workdir or Path(tmp), int8=False)
        encoder = load_encoder(bundle, backend, device="cpu", threads=threads)
        context = encoder.spec.context_length
        rows = []
        for words in word_counts:
            text = query(words)
            real, _ = encoder.tokenizer([text])
            padded, _ = encoder.tokenizer([text], pad_to=context)
            np.testing.assert_allclose(encoder.encode_tokens(real), encoder.encode_tokens(padded), atol=1e-5)
            timed = seconds_interleaved(
                {"real": lambda ids=real: encoder.encode_tokens(ids),
                 "padded": lambda ids=padded: encoder.encode_tokens(ids)}, repeats, timer
            )  # fmt: skip
            real_s, padded_s = timed["real"], timed["padded"]
            rows.append({
                "words": words, "tokens": real.shape[1], "real_ms": round(real_s * 1e3, 2),
                f"padded_{context}_ms": round(padded_s * 1e3, 2), "speedup": round(padded_s / real_s, 2),
            })  # fmt: skip
    goal = next((r for r in rows if r["words"] == GOAL_WORDS), None)
    return {
        "model": str(model),
        "backend": f"{backend} cpu",
        "threads": threads,
        "clock": clock,
        "rows": rows,
        "goal": f">= {GOAL_SPEEDUP}x for a {GOAL_WORDS}-word query",
        "goal_met": None if goal is None else goal["speedup"] >= GOAL_SPEEDUP,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model", default="ViT-B-16", help="architecture (random weights) or bundle directory"
    )
    parser.add_argument("--backend", default="onnxruntime", help="onnxruntime or torch")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: with --threads 1")
    args = parser.parse_args()
    result = run(
        args.model, repeats=args.repeats, threads=args.threads, backend=args.backend, clock=args.clock
    )
    print(table(result.pop("rows")))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
