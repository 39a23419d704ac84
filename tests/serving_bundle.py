"""A tiny exported bundle for the serving tests: a seeded PS-Micro with its ONNX towers (needs torch).

`make serving-test` runs it with the main venv, `python tests/serving_bundle.py OUT`, and hands OUT to the
torch-free serving venv (PS_SERVING_BUNDLE); in the main venv the serving test calls write_bundle itself.
"""

from __future__ import annotations

import sys
from pathlib import Path


def write_bundle(directory: Path) -> Path:
    """Save a seeded PS-Micro bundle to `directory` and export both towers to ONNX (FP32 only: fast)."""
    import torch

    from engine.bundle import save_bundle
    from engine.export import ExportOptions, export_bundle
    from engine.model import build_model, new_spec

    directory = Path(directory)
    torch.manual_seed(0)
    spec = new_spec("PS-Micro")
    save_bundle(build_model(spec), spec, directory)
    export_bundle(directory, ExportOptions(int8=False, fp16_check=False))
    return directory


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/serving_bundle.py OUT_DIR")
    print(write_bundle(Path(sys.argv[1])))
