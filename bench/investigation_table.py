"""The investigation rows of the headline table: search grouped by track against per crop, and
cross-camera search by example against chance."""

from __future__ import annotations

from typing import Any

from bench.rows import Row, result, row


def investigation_rows(results: dict[str, Any]) -> list[Row]:
    """Grouped search's cost at the same top_k (Flat), and the cross-camera top-5 rate of the first model."""
    rows: list[Row] = []
    grouped = result(results, "grouped_search")
    flat = (grouped or {}).get("factories", {}).get("Flat")
    if grouped and flat:
        g, u = flat["rows"]["grouped"], flat["rows"]["ungrouped"]
        rows.append(row(
            f"search p50 at {grouped['size']:,} crops in tracks, top {grouped['top_k']}, ms",
            f"{g['p50_ms']:.2f} (grouped by track; p99 {g['p99_ms']:.2f})",
            f"{u['p50_ms']:.2f} (per crop; p99 {u['p99_ms']:.2f})",
            u["p50_ms"] / g["p50_ms"], group="investigation",
        ))  # fmt: skip
    crossing = result(results, "cross_camera")
    if crossing and crossing["models"]:
        name, r = next(iter(crossing["models"].items()))
        rows.append(row(
            f"a crop from camera A finds its person's track on camera B in the top {crossing['top_k']}",
            f"{r['rate']:.3f} ({name}, {r['queries']} queries, {r['persons']} persons)",
            f"{r['chance']:.3f} (5 tracks of B drawn at random)",
            r["rate"] / r["chance"] if r["chance"] else None, "of chance", group="investigation",
        ))  # fmt: skip
    return rows
