"""One row of the headline table, and how its ratio reads: shared by bench.table and its sections."""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]


def result(results: dict[str, Any], name: str) -> dict[str, Any] | None:
    """One benchmark's result dict, None when it did not run or failed."""
    record = results.get("benchmarks", {}).get(name, {})
    return record.get("result") if isinstance(record, dict) else None


OPPOSITE = {"faster": "slower", "smaller": "larger"}


def ratio_text(factor: float, unit: str) -> str:
    """'3.20x faster', or '2.50x slower' when the factor is below 1 (never '0.40x faster')."""
    if unit in OPPOSITE and factor < 1:
        return f"{1 / factor:.2f}x {OPPOSITE[unit]}"
    return f"{factor:.2f}x {unit}"


def row(
    what: str, ours: str, baseline: str, factor: float | None, unit: str = "faster", group: str = ""
) -> Row:
    """A headline row; factor None for a figure that is not ours-vs-baseline (unit is then the text)."""
    return {
        "what": what,
        "ours": ours,
        "baseline": baseline,
        "factor": None if factor is None else round(factor, 2),
        "ratio": unit if factor is None else ratio_text(factor, unit),
        "group": group,
    }
