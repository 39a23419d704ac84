"""Are this device's TensorRT engines already built? Present, missing (first start) or changed key.

Engines live under `<bundle>/engines/<key>/`, where the key names the TensorRT version, GPU, precision and
batch profile (engine/tensorrt computes it). A key directory counts as built only when every plan file
is there, so a build killed half-way is rebuilt rather than loaded.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class EngineState(StrEnum):
    """What the engine cache holds for the key this device needs."""

    CURRENT = "current"  # built for this key: serve
    MISSING = "missing"  # nothing built yet: first start
    CHANGED = "changed"  # built only for other keys (new TensorRT, GPU, precision or batch): rebuild


@dataclass(frozen=True)
class EngineCheck:
    """The state, the key directories that no longer fit (to prune) and a message for the log."""

    state: EngineState
    stale: tuple[Path, ...]
    message: str


def is_built(key_dir: Path, plan_files: Sequence[str]) -> bool:
    """Every plan file of one key is present and non-empty."""
    return key_dir.is_dir() and all(
        (key_dir / name).is_file() and (key_dir / name).stat().st_size > 0 for name in plan_files
    )


def check_engines(engines_dir: Path, key: str, plan_files: Sequence[str]) -> EngineCheck:
    """Compare the engine cache with the key this device needs."""
    if not plan_files:
        raise ValueError("plan_files is empty: name the plan files a built engine directory holds")
    others = (
        sorted(p for p in engines_dir.glob("*") if p.is_dir() and p.name != key)
        if engines_dir.is_dir()
        else []
    )
    if is_built(engines_dir / key, plan_files):
        return EngineCheck(EngineState.CURRENT, tuple(others), f"TensorRT engines for {key} are built")
    if any(is_built(p, plan_files) for p in others):
        names = ", ".join(p.name for p in others)
        message = f"engines were built for {names}, this device needs {key}: rebuilding"
        return EngineCheck(EngineState.CHANGED, tuple(others), message)
    return EngineCheck(
        EngineState.MISSING, tuple(others), f"no TensorRT engines for {key} yet: building them"
    )


def prune(stale: Sequence[Path], engines_dir: Path) -> list[Path]:
    """Delete key directories that can never load here; refuse anything outside engines_dir."""
    root = engines_dir.resolve()
    removed = []
    for path in stale:
        if path.resolve().parent != root:
            raise ValueError(f"{path} is not a key directory of {engines_dir}; not deleting it")
        shutil.rmtree(path)
        removed.append(path)
    return removed
