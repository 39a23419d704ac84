"""Resident memory of the serving process, side by side: demo model and ViT-B-16 on ONNX Runtime (CPU),
with and without torch imported, plus the torch backend for reference.

Each case is a real `person-search serve` in its own process, measured once it is ready and has ingested
a few crops and answered a few searches. The budget it answers to: an Orin Nano 8GB shares that memory
between the CPU, the GPU and the operating system. Run: `python -m bench.memory [--archs PS-Tiny ViT-B-16]`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from PIL import Image

MIB = 2**20
QUERIES = ("a woman in a red jacket and black trousers", "man with a grey hoodie, blue jeans, white shoes")
# argv[1] says whether to import torch before the service starts; the rest are `person-search` arguments.
LAUNCH = (
    "import sys\n"
    "if sys.argv[1] == 'torch':\n"
    "    import torch  # noqa: F401\n"
    "import runpy\n"
    "sys.argv = ['person-search', *sys.argv[2:]]\n"
    "runpy.run_module('cli', run_name='__main__')\n"
)
IMPORTS_ONLY = (
    "import sys, json, psutil\n"
    "if sys.argv[1] == 'torch':\n"
    "    import torch  # noqa: F401\n"
    "import service.app, index, engine.backends.onnxruntime_backend  # noqa: F401\n"
    "print(json.dumps(psutil.Process().memory_info().rss))\n"
)


def make_bundle(arch: str, root: Path) -> Path:
    """A seeded random-weights bundle of `arch`, exported to ONNX (reused when already there)."""
    bundle = root / arch
    if (bundle / "image.onnx").is_file() and (bundle / "text.onnx").is_file():
        return bundle
    import torch

    from engine.bundle import save_bundle
    from engine.export import ExportOptions, export_bundle
    from engine.model import build_model, new_spec

    torch.manual_seed(0)
    spec = new_spec(arch)
    save_bundle(build_model(spec), spec, bundle)
    export_bundle(bundle, ExportOptions(int8=False, fp16_check=False))
    return bundle


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 30.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _upload(url: str, count: int, seed: int = 0) -> int:
    """POST `count` random person-shaped PNG crops to /gallery in one multipart request."""
    rng = np.random.default_rng(seed)
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for i in range(count):
        png = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (192, 64, 3), dtype=np.uint8)).save(png, format="PNG")
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="c{i}.png"\r\n'.encode()
        )
        body.write(b"Content-Type: image/png\r\n\r\n" + png.getvalue() + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    request = urllib.request.Request(
        url, data=body.getvalue(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return int(response.status)


def _memory(pid: int) -> dict[str, float]:
    """RSS now, USS (memory only this process holds) and peak RSS (VmHWM), in MiB."""
    process = psutil.Process(pid)
    full = process.memory_full_info()
    peak = float("nan")
    status = Path(f"/proc/{pid}/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024 / MIB
    return {
        "rss_mib": round(full.rss / MIB, 1),
        "uss_mib": round(full.uss / MIB, 1),
        "peak_mib": round(peak, 1),
    }


def measure_serve(
    bundle: Path, backend: str, import_torch: bool, workdir: Path, timeout: float = 900
) -> dict:
    """Start `person-search serve`, wait for ready, ingest and search, then read its memory."""
    port = _free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="gallery-", dir=workdir))
    args = ["serve", "--bundle", str(bundle), "--data-dir", str(data_dir), "--backend", backend]
    args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSON_SEARCH_")}
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "torch" if import_torch else "-", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        start = time.monotonic()
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"serve exited: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
                )
            try:
                status, body = _get(f"{base}/health", timeout=5)
            except OSError:
                status, body = 0, b""
            if status == 200:
                break
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"not ready after {timeout:.0f} s: {body[:300]!r}")
            time.sleep(0.5)
        ready_s = time.monotonic() - start
        health = json.loads(body)
        _upload(f"{base}/gallery", 16)
        for query in QUERIES * 3:
            _get(f"{base}/search?q={urllib.parse.quote(query)}&k=5")
        return {"backend": health.get("backend"), "ready_s": round(ready_s, 1), **_memory(process.pid)}
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def imports_only(import_torch: bool) -> float:
    """RSS in MiB of a process that only imports the serving path (no model loaded)."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS_ONLY, "torch" if import_torch else "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return round(int(done.stdout.strip().splitlines()[-1]) / MIB, 1)


def run(archs: tuple[str, ...] = ("PS-Tiny", "ViT-B-16"), workdir: str | None = None) -> dict[str, Any]:
    """Every case side by side, and the ratios that matter: torch imported vs not, ORT vs torch."""
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="bench-memory-"))
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "imports_only_mib": {"no_torch": imports_only(False), "torch_imported": imports_only(True)},
        "models": {},
    }
    for arch in archs:
        bundle = make_bundle(arch, root / "bundles")
        cases = {
            "onnxruntime": measure_serve(bundle, "onnxruntime", False, root),
            "onnxruntime+torch_imported": measure_serve(bundle, "onnxruntime", True, root),
            "torch_backend": measure_serve(bundle, "torch", False, root),
        }
        lean, heavy, reference = (cases[k]["rss_mib"] for k in cases)
        cases["ratios"] = {
            "torch_imported_over_lean": round(heavy / lean, 2),
            "torch_backend_over_lean": round(reference / lean, 2),
            "torch_import_cost_mib": round(heavy - lean, 1),
        }
        out["models"][arch] = cases
    return out


def main() -> None:
    """CLI: print the results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--archs", nargs="+", default=["PS-Tiny", "ViT-B-16"])
    parser.add_argument("--workdir", default=None, help="keep bundles here between runs")
    args = parser.parse_args()
    print(json.dumps(run(tuple(args.archs), args.workdir), indent=2))


if __name__ == "__main__":
    main()
