"""Helpers for the deploy tests: the entrypoint run for real with a fake `person-search`, a FAKE TensorRT.

The fake `person-search` appends each call to `calls` (with the bundle it was given in the environment),
writes the index.use_gpu it was started with to `use_gpu`, and runs `fake_build` for build-engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from engine.bundle_files import IMAGE_ONNX, TEXT_ONNX

REPO = Path(__file__).resolve().parents[1]
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
ORIN_62 = (
    "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 2025\n"
    "# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\n"
)

FAKE_TENSORRT = '"""FakeTensorRT: only the version string deploy reads."""\n__version__ = "10.3.0.30"\n'
FAKE_PYCUDA_DRIVER = '''"""FakePyCUDA driver: one Orin GPU, as pycuda.driver reports it."""


def init():
    pass


class Device:
    @staticmethod
    def count():
        return 1

    def __init__(self, index):
        self.index = index

    def name(self):
        return "Orin (nvgpu)"

    def compute_capability(self):
        return (8, 7)
'''

# A fake build-engine: writes the plan files of the key deploy computes for its arguments
# (bundle, precision, text batch, image batch), failing first while a countdown file says so.
FAKE_BUILD = """
import sys
from pathlib import Path
from deploy.device import engine_key
from engine.tensorrt.profiles import TowerBatches
bundle, precision, text, image = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
countdown = Path(sys.argv[5])
left = int(countdown.read_text()) if countdown.is_file() else 0
if left > 0:
    countdown.write_text(str(left - 1))
    sys.exit(7)
key, files = engine_key(bundle, precision, TowerBatches(int(text), int(image)))
for name in files:
    (bundle / "engines" / key).mkdir(parents=True, exist_ok=True)
    (bundle / "engines" / key / name).write_text("fake plan")
"""


def onnx_bundle(tmp_path: Path) -> Path:
    """A bundle directory with (placeholder) ONNX towers, enough for the CPU image's decisions."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / IMAGE_ONNX).write_bytes(b"onnx")
    (bundle / TEXT_ONNX).write_bytes(b"onnx")
    return bundle


def write_fake_tensorrt(root: Path) -> Path:
    """A directory holding fake `tensorrt` and `pycuda` packages, for PYTHONPATH or sys.path."""
    (root / "tensorrt").mkdir(parents=True)
    (root / "tensorrt" / "__init__.py").write_text(FAKE_TENSORRT)
    (root / "pycuda").mkdir()
    (root / "pycuda" / "__init__.py").write_text('"""FakePyCUDA."""\n')
    (root / "pycuda" / "driver.py").write_text(FAKE_PYCUDA_DRIVER)
    return root


def jetson_setup(micro_bundle: Path, tmp_path: Path, fakes: Path) -> tuple[dict[str, str], str]:
    """A copy of the bundle with ONNX towers, an Orin host release, and the entrypoint's environment on
    a fake TensorRT; returns that environment and the fake build-engine command."""
    bundle = tmp_path / "ro-bundle"
    shutil.copytree(micro_bundle, bundle)
    (bundle / IMAGE_ONNX).write_bytes(b"onnx")
    (bundle / TEXT_ONNX).write_bytes(b"onnx")
    (tmp_path / "fake_build.py").write_text(FAKE_BUILD)
    host = tmp_path / "nv_tegra_release"
    host.write_text(ORIN_62)
    env = {
        "PYTHONPATH": os.pathsep.join([str(fakes), str(REPO)]),
        "PERSON_SEARCH_MODEL__BUNDLE": str(bundle),
        "PERSON_SEARCH_MODEL__PRECISION": "fp16",
        "DEPLOY_IMAGE_L4T": "r36.4.0",
        "DEPLOY_HOST_TEGRA_RELEASE": str(host),
        "DEPLOY_ENGINES_DIR": str(tmp_path / "engines"),
    }
    build = f'python "{tmp_path}/fake_build.py" "$2" "$4" "$6" "$8" "{tmp_path}/fail-first"'
    return env, build


def run_entrypoint(
    tmp_path: Path, env: dict[str, str], *args: str, fake_build: str = "exit 1"
) -> subprocess.CompletedProcess[str]:
    """Run docker/entrypoint.sh with the fake `person-search` on PATH."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    fake = fake_bin / "person-search"
    fake.write_text(
        f'#!/bin/sh\necho "$PERSON_SEARCH_MODEL__BUNDLE $*" >> "{tmp_path}/calls"\n'
        f'echo "${{PERSON_SEARCH_INDEX__USE_GPU:-unset}}" > "{tmp_path}/use_gpu"\n'
        f'if [ "$1" = build-engine ]; then {fake_build}; fi\n'
    )
    fake.chmod(0o755)
    python_bin = Path(sys.executable).parent  # this venv's python, found by the script as `python`
    full_env = {
        "PATH": os.pathsep.join([str(fake_bin), str(python_bin), os.environ["PATH"]]),
        "PYTHONPATH": str(REPO),
        "DEPLOY_WORKDIR": str(tmp_path / "work"),
        "DEPLOY_HOST_TEGRA_RELEASE": str(tmp_path / "no-such-file"),
        **env,
    }
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def calls(tmp_path: Path) -> list[list[str]]:
    """The fake person-search's calls, each split into words (bundle first)."""
    return [line.split() for line in (tmp_path / "calls").read_text().splitlines()]
