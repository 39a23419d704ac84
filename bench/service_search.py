"""/search over HTTP vs the same text-encode + index-search in process, and throughput vs a plain handler.

Side by side in one run: a demo-model gallery, the service in its own process, the in-process baseline
interleaved block by block with it (so machine noise hits both), then 1, 4 and 16 concurrent clients
against the service and against a plain FastAPI handler without batching.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.service_harness import (
    JsonClient,
    ServerProcess,
    build_gallery,
    copy_gallery,
    demo_bundle,
    free_port,
    pin_threads,
    queries,
    service_args,
    summary_ms,
)


def _http_block(client: JsonClient, texts: list[str], out: list[float]) -> None:
    """Time one block of sequential searches over HTTP (after one untimed call that refreshes keep-alive)."""
    client.post("/search", {"text": texts[0] + " again", "top_k": 10})
    for text in texts:
        t0 = time.perf_counter()
        status, _ = client.post("/search", {"text": text, "top_k": 10})
        out.append((time.perf_counter() - t0) * 1000)
        assert status == 200, status


def _latency(
    bundle: Path, data_dir: Path, ports: tuple[int, int], backend: str, texts: list[str], threads: int | None
) -> dict[str, Any]:
    """Interleave blocks of in-process, service and plain-handler searches over the same distinct queries."""
    from engine import load_encoder
    from index import Gallery

    encoder = load_encoder(bundle, backend, **({"threads": threads} if threads else {}))
    service, plain = JsonClient(ports[0]), JsonClient(ports[1])
    inproc: list[float] = []
    http: list[float] = []
    bare: list[float] = []
    with Gallery.open(data_dir, encoder.model_id, encoder.embed_dim, use_gpu=False) as gallery:
        for text in texts[:20]:  # warm all three
            gallery.search(encoder.encode_texts([text + " warm"])[0], 10)
            service.post("/search", {"text": text + " warm", "top_k": 10})
            plain.post("/search", {"text": text + " warm", "top_k": 10})
        for start in range(0, len(texts), 25):
            block = texts[start : start + 25]
            for text in block:
                t0 = time.perf_counter()
                gallery.search(encoder.encode_texts([text])[0], 10)
                inproc.append((time.perf_counter() - t0) * 1000)
            _http_block(service, block, http)
            _http_block(plain, block, bare)
        backend_used = encoder.describe()["backend"]
    server_side = service.get_json("/latency")["pipelines"]["search"]["total"]
    a, b, c = summary_ms(inproc), summary_ms(http), summary_ms(bare)
    return {
        "backend": backend_used,
        "in_process": a,
        "http_service": b,
        "http_plain_handler": c,
        "server_side_total_p50_ms": server_side["p50_ms"],  # inside the handler, before HTTP
        "overhead_p50": round(b["p50_ms"] / a["p50_ms"] - 1, 3),
        "overhead_p99": round(b["p99_ms"] / a["p99_ms"] - 1, 3),
        "plain_overhead_p50": round(c["p50_ms"] / a["p50_ms"] - 1, 3),
    }


def _rate(port: int, clients: int, texts: list[str], seconds: float) -> tuple[int, float]:
    """(requests completed, seconds taken) by `clients` keep-alive clients in one window."""
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def one(i: int) -> None:
        client = JsonClient(port)
        for n, text in enumerate(texts[i::clients]):
            if time.perf_counter() > stop:
                return
            status, _ = client.post("/search", {"text": text, "top_k": 10})
            assert status == 200, status
            done[i] = n + 1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done), time.perf_counter() - start


def _throughput(ports: tuple[int, int], clients: int, texts: list[str], seconds: float) -> dict[str, float]:
    """Requests/s of service and plain handler, alternating short windows so load drifts hit both."""
    totals = {port: [0, 0.0] for port in ports}
    windows = 4
    for w in range(windows):
        for port in ports if w % 2 == 0 else ports[::-1]:
            region = len(texts) // (windows * len(ports))  # queries never repeat: no cache hits
            offset = (w * len(ports) + ports.index(port)) * region
            n, took = _rate(port, clients, texts[offset : offset + region], seconds / windows)
            totals[port][0] += n
            totals[port][1] += took
    service, plain = (totals[p][0] / totals[p][1] for p in ports)
    return {
        "service_rps": round(service, 1),
        "plain_rps": round(plain, 1),
        "ratio": round(service / plain, 2),
    }


def run(
    arch: str = "PS-Tiny",
    backend: str = "auto",
    gallery_size: int = 2000,
    n_queries: int = 400,
    concurrency: tuple[int, ...] = (1, 4, 16),
    seconds: float = 4.0,
    omp_threads: int | None = None,
    service_flags: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Latency overhead of the service and its throughput against a plain handler, side by side."""
    env = pin_threads(omp_threads)
    pinned = ("--threads", str(omp_threads)) if omp_threads else ()
    per_level = 24_000
    texts = queries(n_queries + per_level * len(concurrency))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bundle = demo_bundle(root / "bundle", arch)
        build_gallery(bundle, root / "gallery", gallery_size, backend)
        service_dir, plain_dir, local_dir = (
            copy_gallery(root / "gallery", root / n) for n in ("s", "p", "l")
        )
        service_port, plain_port = free_port(), free_port()
        plain = ["-m", "bench.service_plain", "--bundle", str(bundle), "--data-dir", str(plain_dir)]
        with (
            ServerProcess(
                service_args(bundle, service_dir, service_port, backend, (*pinned, *service_flags)),
                service_port,
                env,
            ),
            ServerProcess(
                [*plain, "--backend", backend, "--port", str(plain_port), *pinned], plain_port, env
            ),
        ):
            ports = (service_port, plain_port)
            latency = _latency(bundle, local_dir, ports, backend, texts[:n_queries], omp_threads)
            rates = {
                str(c): _throughput(ports, c, texts[n_queries + i * per_level :][:per_level], seconds)
                for i, c in enumerate(concurrency)
            }
    return {
        "arch": arch,
        "gallery_size": gallery_size,
        "omp_threads": omp_threads or os.environ.get("OMP_NUM_THREADS", "default"),
        "service_flags": " ".join(service_flags),
        "latency": latency,
        "throughput": rates,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", default="PS-Tiny")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--gallery-size", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--omp-threads", type=int, default=None)
    parser.add_argument("--service-flags", default="", help='extra `serve` flags, e.g. "--text-workers 2"')
    args = parser.parse_args()
    result = run(
        args.arch,
        args.backend,
        args.gallery_size,
        args.queries,
        seconds=args.seconds,
        omp_threads=args.omp_threads,
        service_flags=tuple(args.service_flags.split()),
    )
    print(json.dumps(result, indent=2))
