"""Shared pieces of the engine benchmarks: an exported bundle to measure, a timer, query texts."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from engine.graph_io import Tower
from engine.spec import SPEC_FILE, ModelSpec

WORDS = (
    "a young woman in a long red winter coat with a black leather handbag, blue jeans, white sneakers, "
    "short dark hair, sunglasses and a grey scarf, walking quickly past the entrance while talking on her "
    "phone and holding a paper cup of coffee in the other hand"
).split()


def query(words: int) -> str:
    """A description of exactly `words` words (a prefix of one long description)."""
    if not 1 <= words <= len(WORDS):
        raise ValueError(f"queries have 1..{len(WORDS)} words")
    return " ".join(WORDS[:words]).rstrip(",")


def queries(count: int) -> list[str]:
    """`count` descriptions of 4 to 24 words, cycling, like a mix of terse and detailed searches."""
    return [query(4 + (i * 7) % 21) for i in range(count)]


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def check_clock(clock: str, threads: int) -> Callable[[], float]:
    """The timer for `clock`: wall time, or this process's CPU time (one thread only: it sums threads).

    CPU time is what to use on a machine shared with other work: preemption does not count against it.
    """
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}")
    if clock == "cpu" and threads != 1:
        raise ValueError("--clock cpu sums the CPU time of all threads: use it with --threads 1")
    return CLOCKS[clock]


def seconds_per_call(
    fn: Callable[[], object], repeats: int, warmup: int = 1, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Best time of one call of fn over `repeats`, after warm-up calls.

    The best, not the median: on a shared machine other processes only ever add time.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def seconds_interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> dict[str, float]:
    """Best time of each fn, calling them in turn every round so a burst of load hits all alike."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            start = clock()
            fn()
            best[name] = min(best[name], clock() - start)
    return best


def table(rows: list[dict[str, object]]) -> str:
    """Rows of equal keys as an aligned text table."""
    if not rows:
        return ""
    keys = list(rows[0])
    cells = [[str(k) for k in keys]] + [[str(r[k]) for k in keys] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(keys))]
    return "\n".join("  ".join(c[i].rjust(widths[i]) for i in range(len(keys))) for c in cells)


def exported_bundle(source: str | Path, workdir: Path, int8: bool = True) -> Path:
    """A bundle with ONNX towers: an exported bundle as given, else exported into a copy under workdir.

    `source` is a bundle directory or an architecture name (seeded random weights, e.g. PS-Tiny, ViT-B-16).
    """
    from engine.export import ExportOptions, export_bundle

    source_path = Path(source)
    if (source_path / SPEC_FILE).is_file():
        spec = ModelSpec.load(source_path)
        ready = spec.export.get("model_id") == spec.model_id
        if ready and (not int8 or "int8" in spec.export.get(Tower.IMAGE, {})):
            return source_path
        target = Path(workdir) / source_path.name
        shutil.copytree(source_path, target, dirs_exist_ok=True)
    else:
        import torch

        from engine.bundle import save_bundle
        from engine.model import create_model

        target = Path(workdir) / str(source)
        if (target / SPEC_FILE).is_file():
            return exported_bundle(target, workdir, int8)
        torch.manual_seed(0)
        model, spec = create_model(str(source))
        save_bundle(model, spec, target)
    export_bundle(target, ExportOptions(int8=int8, fp16_check=False))
    return target
