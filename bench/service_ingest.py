"""POST /gallery images/s against the raw encoder on the same crops, side by side in one run.

The raw side decodes, preprocesses and encodes in process in max_batch chunks (what the encoder can do
alone); the service also sniffs, checks limits, hashes, stores files and rows durably, and updates FAISS.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from bench.service_harness import ServerProcess, crops, demo_bundle, free_port, pin_threads, service_args


def _raw(
    bundle: Path, backend: str, images: list[bytes], max_batch: int, threads: int | None
) -> dict[str, float]:
    """Images/s of decode + preprocess + encode in process, and of encode_pixels alone."""
    from engine import load_encoder

    encoder = load_encoder(bundle, backend, max_batch=max_batch, **({"threads": threads} if threads else {}))
    encoder.encode_images([Image.open(io.BytesIO(b)) for b in images[:max_batch]])  # warm
    start = time.perf_counter()
    pixels = []
    for i in range(0, len(images), max_batch):
        batch = encoder.preprocess([Image.open(io.BytesIO(b)) for b in images[i : i + max_batch]])
        pixels.append(batch)
        encoder.encode_pixels(batch)
    full = time.perf_counter() - start
    start = time.perf_counter()
    for batch in pixels:
        encoder.encode_pixels(batch)
    encode_only = time.perf_counter() - start
    return {"raw_full_ips": len(images) / full, "raw_encode_only_ips": len(images) / encode_only}


def _service(port: int, images: list[bytes], per_request: int, clients: int) -> float:
    """Images/s through POST /gallery with `clients` uploading `per_request` files at a time."""
    requests = [images[i : i + per_request] for i in range(0, len(images), per_request)]

    def upload(chunk: list[bytes]) -> int:
        files = [("files", (f"{i}.jpg", data, "image/jpeg")) for i, data in enumerate(chunk)]
        response = client.post("/gallery", files=files)
        assert response.status_code == 200, response.text
        return int(response.json()["added"])

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        upload(images[-per_request:])  # warm, then measure on the rest
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            added = sum(pool.map(upload, requests[:-1]))
        return added / (time.perf_counter() - start)


def run(
    arch: str = "PS-Tiny",
    backend: str = "auto",
    n_images: int = 1024,
    per_request: int = 16,
    clients: int = 4,
    max_batch: int = 16,
    omp_threads: int | None = None,
) -> dict[str, Any]:
    """Service ingest rate and the raw encoder's, on the same distinct crops."""
    env = pin_threads(omp_threads)
    images = crops(n_images, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bundle = demo_bundle(root / "bundle", arch)
        port = free_port()
        extra = [
            "--image-max-batch",
            str(max_batch),
            *(["--threads", str(omp_threads)] if omp_threads else []),
        ]
        with ServerProcess(service_args(bundle, root / "gallery", port, backend, extra), port, env):
            before = _raw(
                bundle, backend, images, max_batch, omp_threads
            )  # raw before and after: noise hits both
            service_ips = _service(port, images, per_request, clients)
            after = _raw(bundle, backend, images, max_batch, omp_threads)
        raw = {key: (before[key] + after[key]) / 2 for key in before}
    return {
        "arch": arch,
        "images": n_images,
        "per_request": per_request,
        "clients": clients,
        "omp_threads": omp_threads or "default",
        "service_ips": round(service_ips, 1),
        "raw_full_ips": round(raw["raw_full_ips"], 1),
        "raw_encode_only_ips": round(raw["raw_encode_only_ips"], 1),
        "service_vs_raw_full": round(service_ips / raw["raw_full_ips"], 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", default="PS-Tiny")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--per-request", type=int, default=16)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--omp-threads", type=int, default=None)
    args = parser.parse_args()
    result = run(
        args.arch, args.backend, args.images, args.per_request, args.clients, omp_threads=args.omp_threads
    )
    print(json.dumps(result, indent=2))
