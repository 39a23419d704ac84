"""What the audit trail costs a search: /search p50 with auditing on against off, side by side in one run.

Two `person-search serve` processes over copies of one demo-model gallery, alike but for
PERSON_SEARCH_AUDIT__ENABLED, both behind the same named read key (so key checks cost both the same).
Blocks of distinct queries (no cache hits) alternate between them, the order flipping every block, so
machine noise hits both. The audited server's trail is then verified: one row per search, chain intact.
`python -m bench.audit_overhead`; the goal is a p50 ratio (on / off) of at most 1.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import load_average
from bench.service_harness import (
    ServerProcess,
    build_gallery,
    copy_gallery,
    demo_bundle,
    free_port,
    queries,
    service_args,
    summary_ms,
)
from index.audit_log import AUDIT_FILE, AuditLog
from service.keys_file import Scope, add_key

BLOCK = 25


class KeyedClient:
    """A keep-alive client that sends an X-API-Key."""

    def __init__(self, port: int, key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json", "X-API-Key": key}

    def search(self, text: str) -> float:
        """One POST /search -> milliseconds taken (asserts 200)."""
        t0 = time.perf_counter()
        self.conn.request("POST", "/search", json.dumps({"text": text, "top_k": 10}), self.headers)
        response = self.conn.getresponse()
        response.read()
        took = (time.perf_counter() - t0) * 1000
        assert response.status == 200, response.status
        return took


def _interleaved(clients: dict[str, KeyedClient], texts: list[str]) -> dict[str, list[float]]:
    """Blocks of BLOCK distinct queries to each server in turn, alternating who goes first."""
    samples: dict[str, list[float]] = {name: [] for name in clients}
    names = list(clients)
    for n, start in enumerate(range(0, len(texts), BLOCK)):
        block = texts[start : start + BLOCK]
        for name in names if n % 2 == 0 else names[::-1]:
            clients[name].search(block[0] + " again")  # untimed: refresh keep-alive
            samples[name].extend(clients[name].search(text) for text in block)
    return samples


def _uptime() -> str:
    """`uptime`'s line, as the README records it with every figure."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def run(gallery_size: int = 2000, n_queries: int = 600, backend: str = "auto") -> dict[str, Any]:
    """p50/p99 of /search with the audit trail on and off, their ratio, and the trail's check."""
    texts = queries(n_queries + 40)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bundle = demo_bundle(root / "bundle")
        build_gallery(bundle, root / "gallery", gallery_size, backend)
        keys = root / "keys.json"
        key = add_key(keys, "bench", Scope.READ)
        dirs = {name: copy_gallery(root / "gallery", root / name) for name in ("on", "off")}
        ports = {name: free_port() for name in dirs}
        flags = ("--keys-file", str(keys))
        servers = {
            name: ServerProcess(
                service_args(bundle, dirs[name], ports[name], backend, flags),
                ports[name],
                {"PERSON_SEARCH_AUDIT__ENABLED": "true" if name == "on" else "false"},
            )
            for name in dirs
        }
        load_before = _uptime()
        with servers["on"], servers["off"]:
            clients = {name: KeyedClient(port, key) for name, port in ports.items()}
            for text in texts[-40:]:  # warm both
                for client in clients.values():
                    client.search(text + " warm")
            samples = _interleaved(clients, texts[:n_queries])
        load_after = _uptime()
        trail = AuditLog(dirs["on"] / AUDIT_FILE, create=False)
        verdict = trail.verify()
        trail.close()
        untouched = not (dirs["off"] / AUDIT_FILE).exists()
    on, off = summary_ms(samples["on"]), summary_ms(samples["off"])
    return {
        "gallery_size": gallery_size,
        "queries_each": n_queries,
        "audit_on": on,
        "audit_off": off,
        "ratio_p50": round(on["p50_ms"] / off["p50_ms"], 3),
        "ratio_p99": round(on["p99_ms"] / off["p99_ms"], 3),
        "goal_p50_ratio": 1.1,
        "trail": {
            "rows": verdict.rows,
            "expected_rows": 40 + n_queries + -(-n_queries // BLOCK),  # warm-up, timed, keep-alive
            "ok": verdict.ok,
            "off_server_wrote_none": untouched,
        },
        "load_average": load_average(),
        "uptime_before": load_before,
        "uptime_after": load_after,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gallery-size", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--backend", default="auto")
    args = parser.parse_args()
    print(json.dumps(run(args.gallery_size, args.queries, args.backend), indent=2))
