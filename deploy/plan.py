"""What the entrypoint does before serving: build TensorRT engines or not, decided from plain inputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from deploy.engines import EngineState, check_engines
from engine.bundle_files import ENGINES_DIR, IMAGE_ONNX, TEXT_ONNX
from engine.encoder import Backend


class StartError(RuntimeError):
    """The container cannot start as configured; the message says why and what to change."""


class Action(StrEnum):
    """The next step of the entrypoint."""

    BUILD = "build"  # run person-search build-engine, then check again
    SERVE = "serve"  # start the service


@dataclass(frozen=True)
class EnginePlan:
    """The next step, why, and engine directories to delete (they can never load on this device)."""

    action: Action
    message: str
    prune: tuple[Path, ...] = ()


def wants_tensorrt(backend: Backend | str, tensorrt_installed: bool) -> bool:
    """Whether this start needs TensorRT engines; an explicit tensorrt without TensorRT is an error."""
    backend = Backend(backend)
    if backend is Backend.TENSORRT and not tensorrt_installed:
        raise StartError(
            "backend 'tensorrt' was chosen but TensorRT is not installed in this image (the CPU image, or "
            "a Jetson image built with TENSORRT=none for JetPack 6.0): on JetPack 6.1 or later build "
            "docker/Dockerfile.jetson with TENSORRT=tarball, or choose backend onnxruntime"
        )
    return backend in (Backend.TENSORRT, Backend.AUTO) and tensorrt_installed


def missing_onnx(bundle: Path) -> list[str]:
    """ONNX towers the bundle lacks (TensorRT and ONNX Runtime both start from them)."""
    return [name for name in (IMAGE_ONNX, TEXT_ONNX) if not (Path(bundle) / name).is_file()]


def plan_engines(bundle: Path, key: str, plan_files: Sequence[str]) -> EnginePlan:
    """Serve when this key's plans exist (pruning the rest), else build; stop when no ONNX to build from."""
    check = check_engines(Path(bundle) / ENGINES_DIR, key, plan_files)
    if check.state is EngineState.CURRENT:
        return EnginePlan(Action.SERVE, check.message, check.stale)
    if missing := missing_onnx(bundle):
        raise StartError(
            f"{bundle} has no {' or '.join(missing)} to build TensorRT engines from: run "
            "`person-search export BUNDLE` where torch is installed, then copy the bundle here"
        )
    return EnginePlan(Action.BUILD, check.message)


def plan_without_engines(bundle: Path, backend: Backend | str) -> EnginePlan:
    """Backends other than TensorRT need the ONNX files (ONNX Runtime) or the weights (torch)."""
    backend = Backend(backend)
    if backend is not Backend.TORCH and (missing := missing_onnx(bundle)):
        raise StartError(
            f"{bundle} has no {' or '.join(missing)}, which this image serves with ONNX Runtime: run "
            "`person-search export BUNDLE` where torch is installed"
        )
    return EnginePlan(Action.SERVE, f"backend {backend}: no TensorRT engines needed")
