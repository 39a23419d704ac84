"""The HTTP API against a real uvicorn server with the micro model and a real gallery, once on each CPU
backend: torch, and ONNX Runtime on the exported towers (what users get without torch)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from service_live import LiveServer, assert_error_shape, crop_bytes, live_settings

from engine import load_encoder
from engine.spec import ModelSpec


@pytest.fixture(scope="module", params=["torch", "onnxruntime"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def server(
    backend: str, micro_bundle: Path, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server per backend; every test of the module runs against each."""
    bundle = request.getfixturevalue("exported_bundle") if backend == "onnxruntime" else micro_bundle
    model = {"bundle": bundle, "backend": backend}
    with LiveServer(live_settings(bundle, tmp_path_factory.mktemp("gallery"), model=model)) as live:
        yield live


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def _upload(client: httpx.Client, seeds: list[int], **form: str) -> httpx.Response:
    files = [("files", (f"crop{s}.png", crop_bytes(s))) for s in seeds]
    return client.post("/gallery", files=files, data=form)


def test_health_names_model_backend_and_gallery(
    client: httpx.Client, micro_bundle: Path, backend: str
) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.headers["x-request-id"]
    health = response.json()
    assert health["ready"] and health["warmup_done"] and health["status"] == "ok"
    assert health["model_id"] == ModelSpec.load(micro_bundle).model_id
    assert (health["backend"], health["precision"], health["device"]) == (backend, "fp32", "cpu")
    assert health["requested_backend"] == backend
    assert isinstance(health["gallery_size"], int) and health["uptime_s"] > 0
    assert client.get("/health/live").json() == {"live": True}


def test_upload_list_get_image_and_delete(client: httpx.Client) -> None:
    response = _upload(client, [101, 102], camera="dock", external_id="t-9", metadata='{"zone": "east"}')
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["added"] == 2 and body["failed"] == 0
    first, second = (item["id"] for item in body["items"])
    assert {"decode", "preprocess", "encode", "index", "total"} <= set(body["timings_ms"])

    item = client.get(f"/gallery/{first}").json()
    assert (item["camera"], item["external_id"], item["metadata"]) == ("dock", "t-9", {"zone": "east"})
    image = client.get(item["image_url"])
    assert image.headers["content-type"] == "image/png" and image.content == crop_bytes(101)

    page = client.get("/gallery", params={"camera": "dock", "limit": 500}).json()
    assert {first, second} <= {i["id"] for i in page["items"]} and "dock" in page["cameras"]

    again = _upload(client, [101]).json()["items"][0]
    assert again["status"] == "duplicate" and again["id"] == first

    assert client.delete(f"/gallery/{second}").json() == {"id": second, "deleted": True}
    assert_error_shape(client.get(f"/gallery/{second}"), 404)
    assert_error_shape(client.delete(f"/gallery/{second}"), 404)
    assert_error_shape(client.get(f"/gallery/{second}/image"), 404)


def test_search_scores_match_the_encoder(client: httpx.Client, micro_bundle: Path) -> None:
    ids = [i["id"] for i in _upload(client, [201, 202, 203], camera="lobby").json()["items"]]
    text = "a woman in a red jacket and black boots"
    response = client.post("/search", json={"text": text, "top_k": 50, "filters": {"cameras": ["lobby"]}})
    assert response.status_code == 200, response.text
    results = response.json()
    assert [m["rank"] for m in results["matches"]] == [1, 2, 3]
    scores = [m["score"] for m in results["matches"]]
    assert scores == sorted(scores, reverse=True)
    assert {m["item"]["id"] for m in results["matches"]} == set(ids)
    assert {"preprocess", "encode", "search", "total"} <= set(results["timings_ms"])

    encoder = load_encoder(micro_bundle, "torch", device="cpu")  # the reference, whichever backend serves
    images = [Image.open(__import__("io").BytesIO(crop_bytes(s))) for s in (201, 202, 203)]
    expected = encoder.encode_images(images) @ encoder.encode_texts([text])[0]
    got = {m["item"]["id"]: m["score"] for m in results["matches"]}
    np.testing.assert_allclose([got[i] for i in ids], expected, atol=1e-4)

    repeat = client.get("/search", params={"q": text, "k": 2, "camera": "lobby"}).json()
    assert repeat["cached"] and [m["item"]["id"] for m in repeat["matches"]] == [
        m["item"]["id"] for m in results["matches"][:2]
    ]
    floor = scores[1]
    kept = client.post(
        "/search", json={"text": text, "top_k": 50, "filters": {"cameras": ["lobby"]}, "min_score": floor}
    )
    assert all(m["score"] >= floor for m in kept.json()["matches"]) and kept.json()["count"] == 2


def test_latency_and_metrics_report_stages(client: httpx.Client) -> None:
    _upload(client, [301])
    client.post("/search", json={"text": "man with a backpack", "top_k": 3})
    latency = client.get("/latency").json()["pipelines"]
    for stage in ("preprocess", "encode", "search", "total"):
        assert latency["search"][stage]["count"] >= 1 and latency["search"][stage]["p99_ms"] >= 0
    assert latency["ingest"]["decode"]["count"] >= 1
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'person_search_stage_seconds_bucket{le="0.001",pipeline="search",stage="encode"}' in text
    assert 'person_search_queue_depth{tower="text"}' in text
    size = len(client.get("/gallery", params={"limit": 500}).json()["items"])
    assert f"person_search_gallery_size {float(size)}" in text


def test_request_ids_are_echoed_or_made(client: httpx.Client) -> None:
    assert client.get("/health", headers={"X-Request-ID": "trace-42"}).headers["x-request-id"] == "trace-42"
    made = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"}).headers["x-request-id"]
    assert made != "bad id\twith spaces" and len(made) == 32


def test_cors_is_off_unless_configured(client: httpx.Client) -> None:
    response = client.get("/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_web_page_and_openapi_are_served(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'id="query"' in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/../settings.py").status_code == 404
    schema = client.get("/openapi.json").json()
    assert {"/search", "/gallery", "/gallery/{item_id}/image", "/health", "/latency", "/metrics"} <= set(
        schema["paths"]
    )
    assert schema["paths"]["/search"]["post"]["requestBody"]["content"]["application/json"]["examples"]
