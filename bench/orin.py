"""An ESTIMATE, not a measurement: exact-search latency on Jetson Orin modules from their memory bandwidth.

Exact search reads every stored vector once per query, so at gallery sizes past the caches it is bound by
memory bandwidth. This module measures what share of this machine's read bandwidth the exact scan reached
here (bytes scanned / p50 latency, from bench.index_search's Flat rows) and assumes an Orin reaches the
same share of its own LPDDR5 bandwidth. The floor is the scan at the module's full bandwidth. Run:
`python -m bench.orin` (measures this machine's read bandwidth only).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

MB = 1e6
GB = 1e9


@dataclass(frozen=True)
class Module:
    """A Jetson Orin module: its name, LPDDR5 bandwidth (datasheet peak) and memory size."""

    name: str
    bandwidth_gbs: float
    memory_gb: float


# NVIDIA's module datasheets. The Orin Nano 8GB rises from 68 to 102 GB/s in JetPack 6.1's "Super" mode.
MODULES = (
    Module("Orin Nano 8GB", 68.0, 8),
    Module("Orin Nano 8GB (Super)", 102.0, 8),
    Module("Orin NX 16GB", 102.4, 16),
    Module("AGX Orin 64GB", 204.8, 64),
)
SIZES = (100_000, 1_000_000)  # past the caches, where bandwidth rules
LABEL = "ESTIMATE from memory bandwidth, not measured on an Orin"


def read_bandwidth_gbs(mib: int = 256, repeats: int = 5) -> float:
    """This machine's single-thread read bandwidth in GB/s: the best sum over an array past the caches."""
    data = np.ones(mib * 2**20 // 4, np.float32)
    best = float("inf")
    for _ in range(repeats + 1):
        start = time.perf_counter()
        data.sum()
        best = min(best, time.perf_counter() - start)
    return data.nbytes / best / GB


def scan_rate(index_result: dict[str, Any]) -> dict[str, float]:
    """Bytes/s of exact FAISS search (config "Flat") at the largest gallery measured, and that size."""
    dim = int(index_result["dim"])
    largest = max(index_result["sizes"], key=lambda s: s["n"])
    flat = next(r for r in largest["rows"] if r["config"] == "Flat")
    bytes_scanned = largest["n"] * dim * 4
    return {"n": largest["n"], "p50_ms": flat["p50_ms"], "gbs": bytes_scanned / (flat["p50_ms"] / 1e3) / GB}


def estimate(
    index_result: dict[str, Any],
    local_bandwidth_gbs: float,
    modules: tuple[Module, ...] = MODULES,
    sizes: tuple[int, ...] = SIZES,
) -> dict[str, Any]:
    """Estimated exact-search p50 per module and gallery size, from the share of bandwidth used here."""
    if local_bandwidth_gbs <= 0:
        raise ValueError("the local read bandwidth must be positive")
    dim = int(index_result["dim"])
    measured = scan_rate(index_result)
    share = min(1.0, measured["gbs"] / local_bandwidth_gbs)
    rows = []
    for module in modules:
        for n in sizes:
            scanned = n * dim * 4
            rows.append({
                "module": module.name, "bandwidth_gbs": module.bandwidth_gbs, "n": n,
                "vectors_gb": round(scanned / GB, 3),
                "memory_share": round(scanned / GB / module.memory_gb, 3),
                "estimated_p50_ms": round(scanned / (module.bandwidth_gbs * share * GB) * 1e3, 3),
                "floor_ms": round(scanned / (module.bandwidth_gbs * GB) * 1e3, 3),
            })  # fmt: skip
    return {
        "label": LABEL,
        "method": (
            "exact search reads n x dim x 4 bytes per query; estimated = bytes / (module bandwidth x share), "
            "share = exact-search bytes/s here / this machine's single-thread read bandwidth; "
            "floor = bytes / module bandwidth"
        ),
        "dim": dim,
        "measured_here": {
            "n": measured["n"],
            "flat_p50_ms": measured["p50_ms"],
            "exact_scan_gbs": round(measured["gbs"], 2),
            "read_bandwidth_gbs": round(local_bandwidth_gbs, 2),
            "share_of_bandwidth": round(share, 3),
        },
        "rows": rows,
    }


def run(mib: int = 256, repeats: int = 5) -> dict[str, Any]:
    """The measured half of the estimate: this machine's read bandwidth (the suite adds the search rate)."""
    return {"read_bandwidth_gbs": round(read_bandwidth_gbs(mib, repeats), 2), "array_mib": mib}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    args = parser.parse_args()
    print(json.dumps(run(args.mib), indent=2))
