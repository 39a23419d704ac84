"""API keys from the settings with read, write and admin scopes, and CORS when configured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_live import LiveServer, assert_error_shape, crop_bytes, live_settings


@pytest.fixture(scope="module")
def client(micro_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    settings = live_settings(
        micro_bundle,
        tmp_path_factory.mktemp("gallery"),
        auth={"read_keys": ["reader-key"], "write_keys": ["writer-key"], "admin_keys": ["admin-key"]},
        server={"cors_origins": ["http://console.example"]},
    )
    with LiveServer(settings) as live, live.client() as http:
        yield http


def _upload(client: httpx.Client, key: str | None) -> httpx.Response:
    headers = {"X-API-Key": key} if key else {}
    return client.post("/gallery", files=[("files", ("a.png", crop_bytes(7)))], headers=headers)


def test_reads_need_a_read_or_write_key(client: httpx.Client) -> None:
    query = {"text": "red coat", "top_k": 3}
    assert assert_error_shape(client.post("/search", json=query), 401)["field"] == "X-API-Key"
    assert_error_shape(client.post("/search", json=query, headers={"X-API-Key": "guess"}), 401)
    assert_error_shape(client.get("/gallery", headers={"X-API-Key": "guess"}), 401)
    for key in ("reader-key", "writer-key"):
        assert client.post("/search", json=query, headers={"X-API-Key": key}).status_code == 200
        assert client.get("/gallery", headers={"X-API-Key": key}).status_code == 200


def test_writes_need_a_write_key(client: httpx.Client) -> None:
    assert_error_shape(_upload(client, None), 401)
    assert_error_shape(_upload(client, "reader-key"), 403)
    added = _upload(client, "writer-key")
    assert added.status_code == 200
    item_id = added.json()["items"][0]["id"]
    assert_error_shape(client.delete(f"/gallery/{item_id}", headers={"X-API-Key": "reader-key"}), 403)
    image = client.get(f"/gallery/{item_id}/image", headers={"X-API-Key": "reader-key"})
    assert image.status_code == 200 and image.content == crop_bytes(7)
    assert client.delete(f"/gallery/{item_id}", headers={"X-API-Key": "writer-key"}).json()["deleted"]


def test_only_an_admin_key_reads_the_audit_trail(client: httpx.Client) -> None:
    assert_error_shape(client.get("/audit"), 401)
    for key in ("reader-key", "writer-key"):
        assert_error_shape(client.get("/audit", headers={"X-API-Key": key}), 403)
    answer = client.get("/audit", params={"action": "auth.denied"}, headers={"X-API-Key": "admin-key"})
    assert answer.status_code == 200 and answer.json()["count"] >= 3  # the refusals just made
    assert {row["actor"] for row in answer.json()["rows"]} >= {"anonymous", "read-1", "write-1"}
    for key in ("admin-key", "writer-key"):  # admin includes write and read
        assert client.post("/search", json={"text": "a coat"}, headers={"X-API-Key": key}).status_code == 200


def test_health_metrics_and_page_stay_open(client: httpx.Client) -> None:
    for path in ("/health", "/health/live", "/metrics", "/latency", "/", "/openapi.json"):
        assert client.get(path).status_code == 200, path


def test_cors_allows_only_configured_origins(client: httpx.Client) -> None:
    allowed = client.get("/health", headers={"Origin": "http://console.example"})
    assert allowed.headers["access-control-allow-origin"] == "http://console.example"
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    other = client.get("/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = client.options(
        "/search",
        headers={
            "Origin": "http://console.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key, Content-Type",
        },
    )
    assert (
        preflight.status_code == 200
        and "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    )
