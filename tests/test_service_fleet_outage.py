"""A hung Milvus (its server process frozen with SIGSTOP): an edge keeps serving, a hub's /health says
it is not ready instead of hanging, and both recover once Milvus answers again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fleet_helpers import drained
from service_live import LiveServer, crop_bytes, live_settings

from index.fleet.lite_server import LiteServer

QUERY = "a man in a grey hoodie"
PROMPT_S = 3.0  # "answers promptly": every request below must finish within this, or the client raises


@pytest.fixture
def frozen_milvus(tmp_path: Path) -> Iterator[LiteServer]:
    """A Milvus Lite server of this test's own, resumed in teardown whatever happened."""
    with LiteServer(tmp_path / "milvus") as server:
        try:
            yield server
        finally:
            assert server.proc is not None
            os.kill(server.proc.pid, signal.SIGCONT)


def _get(url: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{url}{path}", params=params, timeout=PROMPT_S)


def _until(what: str, check: Any, within: float = 30.0) -> Any:
    """Poll check() until it returns something truthy; every poll itself must answer promptly."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_frozen_milvus_stalls_neither_edge_nor_hub(
    micro_bundle: Path, frozen_milvus: LiteServer, tmp_path: Path
) -> None:
    uri = frozen_milvus.uri
    edge_fleet = {"uri": uri, "site_id": "east", "public_url": "http://east.example:8000", "poll_s": 0.05}
    edge_settings = live_settings(micro_bundle, tmp_path / "east", fleet=edge_fleet | {"max_backoff_s": 0.5})
    hub_fleet = {"uri": uri, "hub_timeout_s": 1.0, "hub_refresh_s": 0.2}
    hub_settings = live_settings(micro_bundle, tmp_path / "hub", server={"role": "hub"}, fleet=hub_fleet)
    with LiveServer(edge_settings) as edge, LiveServer(hub_settings) as hub, edge.client() as http:
        files = [("files", (f"e{s}.png", crop_bytes(700 + s))) for s in range(4)]
        assert http.post("/gallery", files=files).status_code == 200
        assert drained(edge)["pending"] == 0
        _until("the hub to count the edge's rows", lambda: _get(hub.url, "/health").json()["milvus"]["count"])

        assert frozen_milvus.proc is not None
        os.kill(frozen_milvus.proc.pid, signal.SIGSTOP)
        try:
            added = http.post("/gallery", files=[("files", ("late.png", crop_bytes(799)))], timeout=PROMPT_S)
            assert added.status_code == 200 and added.json()["added"] == 1
            for n in range(5):  # distinct texts: each is encoded and searched, none served from the cache
                found = _get(edge.url, "/search", q=f"{QUERY} number {n}", k=3)
                assert found.status_code == 200 and found.json()["gallery_size"] == 5
            health = _get(edge.url, "/health")
            assert health.status_code == 200 and health.json()["fleet"]["pending"] >= 1
            assert "person_search_outbox_pending" in _get(edge.url, "/metrics").text

            def hub_says_stale() -> dict[str, Any] | None:
                answer = _get(hub.url, "/health")
                milvus = answer.json()["milvus"]
                return milvus if answer.status_code == 503 and milvus["refresh_timed_out"] else None

            milvus = _until("the hub to report Milvus not answering", hub_says_stale, within=15)
            assert not milvus["reachable"] and milvus["count"] == 4 and milvus["count_age_s"] > 0
            assert "person_search_gallery_size NaN" in _get(hub.url, "/metrics").text
            refused = httpx.post(f"{hub.url}/search", json={"text": QUERY}, timeout=PROMPT_S)
            assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        finally:
            os.kill(frozen_milvus.proc.pid, signal.SIGCONT)

        assert drained(edge)["pending"] == 0  # the replicator reconnected and sent the late crop
        _until("the hub to be ready again", lambda: _get(hub.url, "/health").status_code == 200)
        ready = _get(hub.url, "/health").json()["milvus"]
        assert ready["reachable"] and not ready["refresh_timed_out"]
        body = httpx.post(f"{hub.url}/search", json={"text": QUERY, "top_k": 10}, timeout=30).json()
        assert body["count"] == 5 and body["gallery_size"] == 5
