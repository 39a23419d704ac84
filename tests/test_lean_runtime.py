"""The serving path imports neither torch nor open_clip, and needs nothing the serving images lack.

Each check runs in a fresh interpreter (this test process has torch loaded by other tests). A module of the
serving path that is missing fails the test: the serving image needs every one of them. `make serving-test`
also runs this file in the torch-free venv on the Jetson image's Python.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "open_clip", "torchvision", "peft")
SERVING_PATH = (
    "engine.tokenizer",
    "engine.backends.onnxruntime_backend",
    "engine.tensorrt.keys",
    "engine.tensorrt.build",
    "engine.loader",
    "engine.detector",
    "engine.detector.onnxruntime_detector",
    "engine.detector.tensorrt_build",
    "index",
    "service.app",
    "service.camera_manager",  # cameras: PyAV, ByteTrack (trackers), supervision
    "service.alerting",  # alerts: paho-mqtt, webhooks
    "service.frigate_ingest",
    "cameras.tracking",
    "cameras.sources",
    "cli",  # `person-search serve` and `build-engine` load every subcommand module
    "deploy.__main__",
)
IMAGE_EXTRAS = ("faiss-cpu", "person-search")  # installed beside docker/requirements-serve.txt

PROBE = """
import importlib, json, sys
before = set(sys.modules)
importlib.import_module(sys.argv[1])
heavy = [m for m in sys.modules if m.split(".")[0] in sys.argv[2].split(",")]
tops = sorted({m.split(".")[0] for m in set(sys.modules) - before})
print(json.dumps({"heavy": sorted(heavy), "tops": tops}))
"""


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _probe(module: str) -> dict[str, list[str]]:
    """Import one module in a fresh interpreter; what heavy modules and top-level packages it loaded."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, ",".join(HEAVY)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"importing {module} failed:\n{done.stderr[-3000:]}"
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _requirement_name(line: str) -> str:
    return re.split(r"[<>=!~\[; (]", line.strip())[0].lower().replace("_", "-")


def _closure(names: set[str]) -> set[str]:
    """Distributions installed for these names, following their unconditional requirements."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_requirement_name(r) for r in requires if "extra ==" not in r and "extra==" not in r]
    return seen


def _image_distributions() -> set[str]:
    """What the serving images install: docker/requirements-serve.txt, faiss and the project, with deps."""
    lines = (REPO / "docker" / "requirements-serve.txt").read_text().splitlines()
    wanted = {_requirement_name(line) for line in lines if line.strip() and not line.startswith("#")}
    return _closure(wanted | set(IMAGE_EXTRAS))


@pytest.mark.parametrize("module", SERVING_PATH)
def test_serving_module_imports_no_torch_and_only_what_the_image_has(module: str) -> None:
    assert _exists(module), f"{module} is on the serving path but cannot be found"
    loaded = _probe(module)
    assert not loaded["heavy"], (
        f"importing {module} loads {loaded['heavy'][:8]}: the serving image has no torch"
    )
    installed = metadata.packages_distributions()
    ours = {"engine", "index", "service", "training", "deploy", "bench"}
    image = _image_distributions()
    missing = {
        top: installed[top]
        for top in loaded["tops"]
        if top in installed
        and top not in ours
        and top not in sys.stdlib_module_names
        and not {d.lower().replace("_", "-") for d in installed[top]} & image
    }
    assert not missing, f"{module} imports packages docker/requirements-serve.txt does not install: {missing}"
