"""Watchlist scoring per new crop at 10, 100 and 1000 watchlists: one matrix product against a loop.

Both sides compute the same thing for a batch of new crops (a camera track's 3 crops, and a single
upload): every crop's cosine with every watchlist and whether it beats that watchlist's threshold. The
matrix side is the engine's own code (alerts.scoring); the loop scores one watchlist at a time, as code
holding a list of watchlist objects would. Ratios come from the same run; the load average is recorded.
`python -m bench.alerts_scoring`
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from alerts.scoring import score
from bench.machine import usable_cores

COUNTS = (10, 100, 1000)


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def matrix(crops: np.ndarray, watchlists: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """The engine's way: (N, D) x (D, W) once, then one comparison."""
    return score(crops, watchlists) > thresholds[None, :]


def loop(crops: np.ndarray, watchlists: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """One watchlist at a time."""
    out = np.zeros((len(crops), len(watchlists)), bool)
    for j in range(len(watchlists)):
        out[:, j] = crops @ watchlists[j] > thresholds[j]
    return out


def per_crop_us(fn: Callable[[], Any], crops: int, min_s: float = 0.3) -> float:
    """Median microseconds per crop over repeated calls (at least min_s of them)."""
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < min_s or len(times) < 20:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e6 / crops


def run(dim: int = 512, seed: int = 0) -> dict[str, Any]:
    """Rows per (watchlists, batch): µs per crop each way and the ratio."""
    rng = np.random.default_rng(seed)
    rows = []
    for count in COUNTS:
        watchlists = _unit(rng, count, dim)
        thresholds = rng.uniform(0.1, 0.3, count).astype(np.float32)
        for batch in (1, 3):
            crops = _unit(rng, batch, dim)
            assert (matrix(crops, watchlists, thresholds) == loop(crops, watchlists, thresholds)).all()
            m = per_crop_us(lambda c=crops, w=watchlists, t=thresholds: matrix(c, w, t), batch)
            with threadpool_limits(1):  # BLAS on one thread: what a busy edge box gets out of it
                m1 = per_crop_us(lambda c=crops, w=watchlists, t=thresholds: matrix(c, w, t), batch)
            lo = per_crop_us(lambda c=crops, w=watchlists, t=thresholds: loop(c, w, t), batch)
            rows.append(
                {"watchlists": count, "batch": batch, "matrix_us": m, "matrix_1thread_us": m1, "loop_us": lo,
                 "ratio": lo / m, "ratio_1thread": lo / m1}
            )  # fmt: skip
    return {
        "bench": "alerts_scoring",
        "dim": dim,
        "cores": usable_cores(),
        "load": os.getloadavg(),
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    """A plain-text table of the rows."""
    lines = [f"load average {result['load'][0]:.2f}, {result['cores']} cores, D={result['dim']}"]
    lines.append(
        "watchlists batch  matrix µs/crop  1-thread µs/crop  loop µs/crop  loop/matrix  loop/1-thread"
    )
    for r in result["rows"]:
        lines.append(
            f"{r['watchlists']:>10} {r['batch']:>5} {r['matrix_us']:>15.1f} {r['matrix_1thread_us']:>17.1f}"
            f" {r['loop_us']:>13.1f} {r['ratio']:>12.1f} {r['ratio_1thread']:>14.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run()
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
