"""The PNG beside a suite's results: the headline ratios, and search latency and memory as the gallery grows.

Run: `python -m bench.chart bench/results/<date>.json` (writes the .png next to it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from bench import table

CURVES = ("numpy brute force", "Flat", "SQ8", "HNSW32 efSearch=64", "IVF")  # IVF: the first IVF row
ESTIMATE_MODULE = "Orin Nano 8GB"


def _curve_rows(sizes: list[dict[str, Any]]) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """For each curve, (n, row) at every size where it was measured."""
    curves: dict[str, list[tuple[int, dict[str, Any]]]] = {name: [] for name in CURVES}
    for size in sizes:
        for name in CURVES:
            match = next((r for r in size["rows"] if r["config"].startswith(name)), None)
            if match is not None:
                curves[name].append((size["n"], match))
    return {name: points for name, points in curves.items() if points}


def ratios(ax: Axes, rows: list[dict[str, Any]]) -> None:
    """Horizontal bars of every headline factor, log scale, 1x marked."""
    rows = [r for r in rows if r.get("factor")]
    if not rows:
        ax.set_axis_off()
        ax.set_title("no headline ratios in this run")
        return
    labels = [r["what"] if len(r["what"]) <= 72 else r["what"][:69] + "..." for r in rows]
    factors = [r["factor"] for r in rows]
    colours = ["tab:green" if f >= 1 else "tab:red" for f in factors]
    positions = range(len(rows))
    ax.barh(positions, factors, color=colours)
    for y, f in zip(positions, factors, strict=True):
        ax.text(f, y, f" {f:.2f}x", va="center", fontsize=8)
    ax.set_yticks(list(positions), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("ours / baseline (> 1: ours better), measured side by side")
    ax.set_title("Headline ratios")


def latency(ax: Axes, sizes: list[dict[str, Any]], estimate: dict[str, Any] | None) -> None:
    """p50 search latency against gallery size, with the labelled Orin estimate for exact search."""
    for name, points in _curve_rows(sizes).items():
        label = points[0][1]["config"] if name == "IVF" else name
        ax.plot([n for n, _ in points], [r["p50_ms"] for _, r in points], marker="o", label=label)
    if estimate:
        rows = [r for r in estimate["rows"] if r["module"] == ESTIMATE_MODULE]
        ax.plot(
            [r["n"] for r in rows],
            [r["estimated_p50_ms"] for r in rows],
            linestyle="--",
            color="grey",
            label=f"exact, {ESTIMATE_MODULE} (ESTIMATE)",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gallery size (vectors, 512-d)")
    ax.set_ylabel("p50 ms per single query")
    ax.set_title("Search latency as the gallery grows")
    _legend(ax)
    ax.grid(True, which="both", alpha=0.3)


def memory(ax: Axes, sizes: list[dict[str, Any]]) -> None:
    """Index memory against gallery size per structure."""
    for name, points in _curve_rows(sizes).items():
        label = points[0][1]["config"] if name == "IVF" else name
        mib = [n * r["bytes_per_vector"] / 2**20 for n, r in points]
        ax.plot([n for n, _ in points], mib, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gallery size (vectors, 512-d)")
    ax.set_ylabel("index MiB")
    ax.set_title("Index memory as the gallery grows")
    _legend(ax)
    ax.grid(True, which="both", alpha=0.3)


def _legend(ax: Axes) -> None:
    """A legend where something was drawn."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def draw(results: dict[str, Any], path: Path) -> Path:
    """Write the three panels to `path` (PNG) and return it."""
    index = table.index_sizes(results.get("benchmarks", {}))
    sizes = index["sizes"] if index else []
    figure, axes = plt.subplots(1, 3, figsize=(21, 7), gridspec_kw={"width_ratios": [1.5, 1, 1]})
    ratios(axes[0], table.headline(results))
    latency(axes[1], sizes, results.get("orin_estimate"))
    memory(axes[2], sizes)
    machine = results.get("machine", {})
    load = results.get("load", {})
    figure.suptitle(
        f"person-search bench, {results.get('date')} ({results.get('mode')}): {machine.get('cpu')}, "
        f"{machine.get('usable_cores')} cores" + (", loaded machine" if load.get("loaded") else ""),
        fontsize=11,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a bench/results/<date>.json")
    source = parser.parse_args().results
    print(draw(json.loads(source.read_text()), source.with_suffix(".png")))
