"""Shared set-up for the service benchmarks: a demo bundle, a gallery, servers in subprocesses, queries."""

from __future__ import annotations

import http.client
import io
import itertools
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

COLOURS = [
    "red",
    "blue",
    "black",
    "white",
    "grey",
    "green",
    "yellow",
    "brown",
    "pink",
    "orange",
    "navy",
    "beige",
]
TOPS = ["jacket", "t-shirt", "hoodie", "coat", "shirt", "sweater", "dress", "vest"]
BOTTOMS = ["jeans", "trousers", "shorts", "skirt", "leggings"]
EXTRAS = ["a backpack", "a handbag", "a cap", "glasses", "white sneakers", "boots", "an umbrella", "a phone"]
WHO = ["a man", "a woman", "a person", "a young man", "an older woman", "a child"]


def queries(n: int, seed: int = 0) -> list[str]:
    """n distinct person descriptions of realistic length (so no cache can answer them)."""
    combos = list(itertools.product(WHO, COLOURS, TOPS, COLOURS, BOTTOMS, EXTRAS))
    random.Random(seed).shuffle(combos)
    return [f"{w} in a {c1} {t} and {c2} {b}, with {e}" for w, c1, t, c2, b, e in combos[:n]]


def crops(n: int, seed: int = 0, size: tuple[int, int] = (160, 64)) -> list[bytes]:
    """n distinct JPEG person-crop-shaped images (H, W)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = rng.integers(0, 256, (8, 4, 3), dtype=np.uint8)  # blocky, so JPEG sizes stay realistic
        image = Image.fromarray(base).resize(size[::-1], Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def demo_bundle(directory: Path, arch: str = "PS-Tiny", export: bool = True) -> Path:
    """A seeded random bundle of the demo architecture (same compute as a trained one), ONNX if possible."""
    import torch

    from engine.bundle import save_bundle
    from engine.model import build_model, new_spec

    torch.manual_seed(0)
    spec = new_spec(arch)
    save_bundle(build_model(spec), spec, directory)
    if export:
        try:
            from engine.export import export_bundle

            export_bundle(directory)
        except Exception as exc:  # no exporter in this build: torch and ONNX Runtime benches differ
            print(f"# no ONNX export ({type(exc).__name__}: {exc}); auto will pick torch", file=sys.stderr)
    return directory


def build_gallery(bundle: Path, data_dir: Path, n: int, backend: str) -> None:
    """Fill a gallery with n encoded crops."""
    from engine import load_encoder
    from index import Gallery, ItemMeta

    encoder = load_encoder(bundle, backend)
    images = crops(n, seed=1, size=(96, 32))
    with Gallery.open(data_dir, encoder.model_id, encoder.embed_dim, use_gpu=False) as gallery:
        for i in range(0, n, 256):
            chunk = images[i : i + 256]
            vectors = encoder.encode_images([Image.open(io.BytesIO(b)) for b in chunk])
            metas = [ItemMeta(camera=f"cam{j % 8}") for j in range(i, i + len(chunk))]
            gallery.add(chunk, vectors, metas)


def copy_gallery(source: Path, target: Path) -> Path:
    """An independent copy, so two processes never share one gallery."""
    shutil.copytree(source, target)
    return target


def pin_threads(omp_threads: int | None) -> dict[str, str]:
    """Pin OpenMP (FAISS) and torch threads in this process; the env that pins them in servers."""
    if omp_threads is None:
        return {}
    import faiss
    import torch

    faiss.omp_set_num_threads(omp_threads)
    torch.set_num_threads(omp_threads)
    return {"OMP_NUM_THREADS": str(omp_threads)}


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server in its own interpreter (its own GIL and cores), ready when /health answers 200."""

    def __init__(self, args: Sequence[str], port: int, env: dict[str, str] | None = None) -> None:
        self.args, self.port = list(args), port
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        self.process = subprocess.Popen([sys.executable, *self.args], env=self.env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server {self.args} exited with {self.process.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server {self.args} not ready")

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(30)


def service_args(
    bundle: Path, data_dir: Path, port: int, backend: str, extra: Sequence[str] = ()
) -> list[str]:
    """`person-search serve` as a subprocess command line."""
    return [
        "-m",
        "cli",
        "serve",
        "--bundle", str(bundle),
        "--data-dir", str(data_dir),
        "--backend", backend,
        "--port", str(port),
        "--log-level", "warning",
        *extra,
    ]  # fmt: skip


class JsonClient:
    """A keep-alive HTTP/1.1 client with little overhead of its own."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        """POST JSON; (status, body bytes). Reconnects once if the server closed an idle connection."""
        for attempt in (1, 2):
            try:
                self.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
                response = self.conn.getresponse()
                return response.status, response.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get_json(self, path: str) -> Any:
        """GET and parse JSON."""
        self.conn.close()  # a fresh connection: the idle one may have been closed by the server
        self.conn.request("GET", path)
        return json.loads(self.conn.getresponse().read())


def summary_ms(samples: Sequence[float]) -> dict[str, float]:
    """p50, p99 and mean of millisecond samples."""
    values = np.asarray(samples, float)
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "mean_ms": round(float(values.mean()), 3),
        "n": len(values),
    }
