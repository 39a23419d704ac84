"""The image checks itself at build time: its Python modules import and their native libraries resolve.

The Dockerfiles' last stage runs `python -m deploy check-image ...`, so a missing shared library fails
`docker build` instead of the first start on the device. One library cannot be there at build time:
libcuda.so.1, the host's GPU driver, which the NVIDIA runtime mounts into running containers only (a
BuildKit build does not use the nvidia runtime, even where it is Docker's default). An extension that links
it (pycuda's `_driver`) is therefore checked with ldd, not imported, when libcuda.so.1 is absent: every
other library it needs must resolve, and the report says that the import itself was not tried.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

DRIVER_LIB = "libcuda.so.1"
_LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(not found|\S+)")

Links = dict[str, str | None]  # library name -> resolved path, None when ldd says "not found"
Ldd = Callable[[Path], Links]


class Build(StrEnum):
    """The FAISS and ONNXRUNTIME build arguments: the CPU or the CUDA build of the library."""

    CPU = "cpu"
    GPU = "gpu"


class TensorRTSource(StrEnum):
    """The TENSORRT build argument: from NVIDIA's L4T tarball, or none (JetPack 6.0)."""

    TARBALL = "tarball"
    NONE = "none"


@dataclass
class Report:
    """What was checked (for the build log) and what is wrong (fails the build)."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def parse_ldd(text: str) -> Links:
    """ldd output -> {library: path or None}; lines without '=>' (the loader, vdso) are skipped."""
    links: Links = {}
    for line in text.splitlines():
        if match := _LDD_LINE.match(line):
            links[match[1]] = None if match[2] == "not found" else match[2]
    return links


def run_ldd(path: Path) -> Links:
    """The shared libraries one file links, as ldd resolves them in this image."""
    done = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ldd {path} failed: {(done.stderr or done.stdout).strip()}")
    return parse_ldd(done.stdout)


def driver_present() -> bool:
    """Whether the GPU driver's libcuda.so.1 loads here (only under the NVIDIA runtime)."""
    try:
        ctypes.CDLL(DRIVER_LIB)
    except OSError:
        return False
    return True


def extensions(package: str, pattern: str) -> list[Path]:
    """Native extension files of an installed package matching a glob, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {package} is not installed")
    return sorted(p for root in spec.submodule_search_locations for p in Path(root).glob(pattern))


def check_module(
    report: Report,
    module: str,
    pattern: str,
    driver: bool,
    require: tuple[str, ...] = (),
    ldd: Ldd = run_ldd,
) -> bool:
    """Check one module's extensions with ldd, then import it unless it needs the absent driver.

    Returns whether the module was imported (callers then check what only the module can tell).
    """
    package = module.split(".")[0]
    try:
        files = extensions(package, pattern)
    except ModuleNotFoundError as exc:
        report.problems.append(str(exc))
        return False
    if not files:
        report.problems.append(f"{package}: no native extension matching {pattern}")
        return False
    allowed = set() if driver else {DRIVER_LIB}
    needs_driver = False
    for path in files:
        links = ldd(path)
        needs_driver |= DRIVER_LIB in links
        if missing := sorted(n for n, p in links.items() if p is None and n not in allowed):
            report.problems.append(f"{path.name}: not found: {', '.join(missing)}")
        for prefix in require:
            if not any(name.startswith(prefix) for name in links):
                report.problems.append(f"{path.name} does not link {prefix} (is this the GPU build?)")
    report.checked.append(f"{package}: {', '.join(p.name for p in files)} link what they need")
    if needs_driver and not driver:
        report.checked.append(
            f"{module}: not imported, it links {DRIVER_LIB}, which the NVIDIA runtime mounts only into a "
            "running container; its other libraries resolve"
        )
        return False
    try:
        importlib.import_module(module)
    except Exception as exc:  # an extension that fails to load raises ImportError or OSError
        report.problems.append(f"import {module}: {type(exc).__name__}: {exc}")
        return False
    report.checked.append(f"import {module}: ok")
    return True


def check_image(
    faiss: Build | str,
    tensorrt: TensorRTSource | str,
    onnxruntime: Build | str,
    driver: bool | None = None,
    ldd: Ldd = run_ldd,
) -> Report:
    """Every check for one image configuration; `driver` None means look for libcuda.so.1 here."""
    driver = driver_present() if driver is None else driver
    report = Report(checked=[f"{DRIVER_LIB}: {'present' if driver else 'absent (build time)'}"])
    gpu_faiss = Build(faiss) is Build.GPU
    require = ("libcublas",) if gpu_faiss else ()
    if check_module(report, "faiss", "_swigfaiss*.so", driver, require, ldd) and gpu_faiss:
        faiss_module = importlib.import_module("faiss")
        if not hasattr(faiss_module, "StandardGpuResources"):
            report.problems.append("faiss imports but has no GPU support (StandardGpuResources)")
    if check_module(report, "onnxruntime", "capi/onnxruntime_pybind11_state*.so", driver, (), ldd):
        providers = importlib.import_module("onnxruntime").get_available_providers()
        report.checked.append(f"onnxruntime providers: {', '.join(providers)}")
        if Build(onnxruntime) is Build.GPU and "CUDAExecutionProvider" not in providers:
            report.problems.append("ONNXRUNTIME=gpu but onnxruntime has no CUDAExecutionProvider")
    if TensorRTSource(tensorrt) is TensorRTSource.TARBALL:
        check_module(report, "tensorrt", "*.so", driver, (), ldd)
        check_module(report, "pycuda.driver", "_driver*.so", driver, (), ldd)
    return report
