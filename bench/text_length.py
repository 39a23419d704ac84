"""Text tower on the real token length vs on 77 padded tokens, side by side, for a 15-word query."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import torch

from engine.model import build_model, new_spec
from engine.tokenizer import Tokenizer
from engine.towers import TextTower

QUERY = "a man in a grey hoodie with blue jeans and white sneakers carrying a black backpack"


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of fn in milliseconds after two warm-up calls."""
    fn(), fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def run(arch: str = "ViT-B-16", repeats: int = 20) -> dict[str, object]:
    """Time one query at its real length and padded to the context; return both and the ratio."""
    torch.manual_seed(0)
    spec = new_spec(arch)
    tower = TextTower(build_model(spec))
    tokenizer = Tokenizer(context_length=spec.context_length)
    trimmed, lengths = tokenizer([QUERY])
    padded, _ = tokenizer([QUERY], pad_to=spec.context_length)
    with torch.inference_mode():
        real_ms = _median_ms(lambda: tower(torch.from_numpy(trimmed)), repeats)
        full_ms = _median_ms(lambda: tower(torch.from_numpy(padded)), repeats)
    return {
        "arch": arch,
        "words": len(QUERY.split()),
        "tokens": int(lengths[0]),
        "real_length_ms": round(real_ms, 2),
        "padded_77_ms": round(full_ms, 2),
        "speedup": round(full_ms / real_ms, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
