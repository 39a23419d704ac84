"""The fleet over HTTP: two edge services replicate into a real Milvus Lite server, a hub service searches
them with the edges' contract, and reports what it cannot reach."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fleet_helpers import drained
from service_live import LiveServer, assert_error_shape, crop_bytes, live_settings

from index.fleet.lite_server import LiteServer, free_port

QUERY = "a woman in a red jacket carrying a black bag"


def fleet(uri: str, site: str | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {"uri": uri, "poll_s": 0.05, "max_backoff_s": 0.5}
    if site:
        values |= {"site_id": site, "public_url": f"http://{site}.example:8000"}
    return values


@pytest.fixture(scope="module")
def edges(
    micro_bundle: Path, milvus: LiteServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, LiveServer]]:
    servers = {
        site: LiveServer(
            live_settings(micro_bundle, tmp_path_factory.mktemp(site), fleet=fleet(milvus.uri, site))
        )
        for site in ("north", "south")
    }
    with servers["north"], servers["south"]:
        for offset, (site, server) in enumerate(servers.items()):
            with server.client() as http:
                files = [("files", (f"{site}{s}.png", crop_bytes(100 * offset + s))) for s in range(12)]
                assert http.post("/gallery", files=files, data={"camera": f"{site}-gate"}).status_code == 200
                assert http.delete("/gallery/3").json()["deleted"]
        yield servers


@pytest.fixture(scope="module")
def hub(
    micro_bundle: Path, milvus: LiteServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    settings = live_settings(
        micro_bundle, tmp_path_factory.mktemp("hub"), server={"role": "hub"}, fleet=fleet(milvus.uri)
    )
    with LiveServer(settings) as live:
        yield live


def test_edges_report_backlog_and_drain(edges: dict[str, LiveServer]) -> None:
    for site, server in edges.items():
        status = drained(server)
        assert status["site_id"] == site and status["pending"] == 0 and status["oldest_age_s"] is None
        assert status["connected"] and status["replicated"] == 12 + 1 + 1  # adds, the delete, the sweep
        metrics = httpx.get(f"{server.url}/metrics").text
        assert "person_search_outbox_pending 0.0" in metrics
        assert "person_search_outbox_oldest_age_seconds 0.0" in metrics


def test_hub_ranks_the_union_of_the_edges(edges: dict[str, LiveServer], hub: LiveServer) -> None:
    for server in edges.values():
        drained(server)
    own = []
    for site, server in edges.items():
        matches = httpx.post(f"{server.url}/search", json={"text": QUERY, "top_k": 8}).json()["matches"]
        own += [(m["score"], site, m["item"]["id"]) for m in matches]
        assert all(m["item"]["site"] == site for m in matches)
    with hub.client() as http:
        both = {"sites": ["north", "south"]}  # other tests' sites share this Milvus
        body = http.post("/search", json={"text": QUERY, "top_k": 8, "filters": both}).json()
    got = [(m["item"]["site"], m["item"]["id"]) for m in body["matches"]]
    assert got == [(site, i) for _, site, i in sorted(own, key=lambda m: -m[0])[:8]]
    assert body["gallery_size"] >= 22 and body["count"] == 8
    first = body["matches"][0]["item"]
    assert first["image_url"] == f"http://{first['site']}.example:8000/gallery/{first['id']}/image"
    assert first["camera"] == f"{first['site']}-gate" and ("north", 3) not in got


def test_hub_site_filter_matches_that_sites_own_search(edges: dict[str, LiveServer], hub: LiveServer) -> None:
    drained(edges["south"])
    own = httpx.get(f"{edges['south'].url}/search", params={"q": QUERY, "k": 5}).json()["matches"]
    with hub.client() as http:
        body = http.get("/search", params={"q": QUERY, "k": 5, "site": "south"}).json()
        none = http.post("/search", json={"text": QUERY, "filters": {"sites": ["elsewhere"]}}).json()
    assert [(m["item"]["site"], m["item"]["id"]) for m in body["matches"]] == [
        ("south", m["item"]["id"]) for m in own
    ]
    assert none["count"] == 0


def test_hub_health_and_routes(hub: LiveServer, edges: dict[str, LiveServer]) -> None:
    with hub.client() as http:
        health = http.get("/health").json()
        assert health["role"] == "hub" and health["ready"] and health["milvus"]["reachable"]
        assert health["encoder"]["towers"] == ["text"]  # a hub never encodes images
        assert health["milvus"]["collection"].startswith("fleet_") and health["gallery_size"] is None
        assert_error_shape(http.get("/gallery"), 404)
    with edges["north"].client() as http:
        response = http.post("/search", json={"text": QUERY, "filters": {"sites": ["north"]}})
        assert assert_error_shape(response, 422)["field"] == "filters.sites"


def test_hub_filters_on_any_metadata_key(edges: dict[str, LiveServer], hub: LiveServer) -> None:
    """A key with a double quote and a value with a line break reach Milvus quoted, as on the edge."""
    odd = {'a"b': 'line one\nline "two"', "plain": 7}
    with edges["north"].client() as http:
        files = [("files", ("odd.png", crop_bytes(990)))]
        item = http.post("/gallery", files=files, data={"metadata": json.dumps(odd)}).json()["items"][0]
    drained(edges["north"])
    with hub.client() as http:
        for key, value in odd.items():
            body = {"text": QUERY, "filters": {"metadata": {key: value}, "sites": ["north", "south"]}}
            found = http.post("/search", json=body)
            assert found.status_code == 200, found.text
            assert [(m["item"]["site"], m["item"]["id"]) for m in found.json()["matches"]] == [
                ("north", item["id"])
            ]
        big = {"text": QUERY, "filters": {"metadata": {"plain": 2**70}}}
        assert assert_error_shape(http.post("/search", json=big), 422)["field"] == "filters.metadata.plain"


def test_hub_without_milvus_stays_up_and_says_why(micro_bundle: Path, tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = live_settings(micro_bundle, tmp_path, server={"role": "hub"}, fleet=fleet(nowhere))
    with LiveServer(settings, wait_ready=False) as live, live.client() as http:
        deadline = time.monotonic() + 60
        while http.get("/health").json()["status"] == "starting" and time.monotonic() < deadline:
            time.sleep(0.1)
        response = http.get("/health")
        assert response.status_code == 503 and response.json()["milvus"]["reachable"] is False
        assert "MilvusException" in response.json()["milvus"]["error"]
        error = assert_error_shape(http.post("/search", json={"text": QUERY}), 503)
        assert "fleet's Milvus did not answer" in error["message"]
        metrics = http.get("/metrics")  # a scrape still answers, the size unknown
        assert metrics.status_code == 200 and "person_search_gallery_size NaN" in metrics.text


def test_hub_on_an_empty_fleet_names_its_collection(micro_bundle: Path, tmp_path: Path) -> None:
    with LiteServer(tmp_path / "milvus") as empty:
        settings = live_settings(micro_bundle, tmp_path, server={"role": "hub"}, fleet=fleet(empty.uri))
        with LiveServer(settings) as live, live.client() as http:
            milvus = http.get("/health").json()["milvus"]
            assert milvus["reachable"] and milvus["count"] == 0 and milvus["collection"].startswith("fleet_")
            assert http.post("/search", json={"text": QUERY}).json()["count"] == 0


def test_health_never_shows_a_password_in_the_milvus_uri() -> None:
    from service.fleet import redacted

    assert redacted("http://root:s3cret@hub.example:19530") == "http://root:***@hub.example:19530"
    assert redacted("http://hub.example:19530") == "http://hub.example:19530"


def test_an_edge_served_from_a_milvus_lite_file(micro_bundle: Path, tmp_path: Path) -> None:
    """index.backend=milvus with no URI keeps a Milvus Lite file in the data directory; SQLite stays the
    record, so a restart serves the same ranking."""
    settings = live_settings(micro_bundle, tmp_path, index={"backend": "milvus"})
    with LiveServer(settings) as live, live.client() as http:
        files = [("files", (f"m{s}.png", crop_bytes(500 + s))) for s in range(6)]
        assert http.post("/gallery", files=files).status_code == 200
        assert http.delete("/gallery/2").json()["deleted"]
        first = http.get("/search", params={"q": QUERY, "k": 10}).json()
        assert http.get("/health").json()["index_backend"] == "milvus"
    assert (tmp_path / "milvus.db").exists() and first["count"] == 5
    assert 2 not in [m["item"]["id"] for m in first["matches"]]
    with LiveServer(settings) as live, live.client() as http:
        again = http.get("/search", params={"q": QUERY, "k": 10}).json()
    assert [m["item"]["id"] for m in again["matches"]] == [m["item"]["id"] for m in first["matches"]]
