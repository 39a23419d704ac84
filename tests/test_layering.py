"""The dependency direction of DESIGN.md, read from the import statements of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("cli", "service", "alerts", "cameras", "index", "engine", "training", "bench", "deploy")
# What each package may not import (directly or lazily inside a function).
FORBIDDEN = {
    "service": {"cli", "training", "bench"},
    "alerts": {"cli", "service", "cameras", "engine", "training", "bench", "deploy"},
    "cameras": {"cli", "service", "alerts", "index", "training", "bench", "deploy"},
    "index": {"cli", "service", "alerts", "cameras", "engine", "training", "bench", "deploy"},
    "engine": {"cli", "service", "alerts", "cameras", "index", "training", "bench", "deploy"},
    "training": {"cli", "service", "alerts", "cameras", "index", "bench", "deploy"},
    "deploy": {"cli", "alerts", "training", "bench"},
    "bench": {"cli"},
}


def _imported_tops(path: Path) -> set[str]:
    """Top-level packages of this repository that one file imports, anywhere in it."""
    tops: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            tops |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops & set(PACKAGES)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_design(package: str) -> None:
    offences = [
        f"{path.relative_to(REPO)} imports {sorted(_imported_tops(path) & FORBIDDEN[package])}"
        for path in sorted((REPO / package).rglob("*.py"))
        if _imported_tops(path) & FORBIDDEN[package]
    ]
    assert not offences, "\n".join(offences)


def test_one_tower_enum_for_every_package() -> None:
    """The image/text tower names are engine.graph_io.Tower everywhere; no package defines its own."""
    found = [
        f"{path.relative_to(REPO)}: class {node.name}"
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.ClassDef)
        and any(isinstance(b, ast.Name) and b.id in ("StrEnum", "Enum") for b in node.bases)
        and {
            s.targets[0].id
            for s in node.body
            if isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name)
        }
        >= {"IMAGE", "TEXT"}
    ]
    assert found == ["engine/graph_io.py: class Tower"]
