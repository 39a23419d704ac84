"""Bad input: every refusal is a JSON error naming the field or file; the server and gallery survive."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_live import LiveServer, assert_error_shape, crop_bytes, live_settings, png_bomb

LIMITS = {
    "max_file_bytes": 20_000,
    "max_request_bytes": 60_000,
    "max_json_bytes": 4096,
    "max_files": 4,
    "max_pixels": 1_000_000,
    "max_text_chars": 200,
    "max_top_k": 20,
}


@pytest.fixture(scope="module")
def client(micro_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    settings = live_settings(
        micro_bundle,
        tmp_path_factory.mktemp("gallery"),
        limits=LIMITS,
        batching={"image": {"queue_size": 3, "max_batch": 2}},
    )
    with LiveServer(settings) as live, live.client() as http:
        yield http


def _files(*named: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes]]]:
    return [("files", (name, data)) for name, data in named]


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("notes.txt", b"just some text, not an image", 415),
        ("anim.gif", b"GIF89a" + b"\x00" * 64, 415),
        ("cut.png", crop_bytes(1)[:200], 400),
        ("cut.jpg", crop_bytes(2, "JPEG")[:300], 400),
        ("fake.bmp", b"BM" + os.urandom(100), 400),
        ("empty.png", b"", 400),
        ("big.png", crop_bytes(3, size=(128, 64)), 413),
        ("bomb.png", png_bomb(), 413),
        ("dot.png", crop_bytes(4, size=(2, 2)), 422),
    ],
)
def test_a_bad_file_is_refused_naming_it(client: httpx.Client, name: str, data: bytes, status: int) -> None:
    error = assert_error_shape(client.post("/gallery", files=_files((name, data))), status)
    assert error["file"] == name and name in error["message"]


def test_formats_are_sniffed_from_content_not_names(client: httpx.Client) -> None:
    files = _files(
        ("a.jpg", crop_bytes(10, "JPEG")),
        ("b.webp", crop_bytes(11, "WEBP")),
        ("c.bmp", crop_bytes(12, "BMP")),
        ("really-png.txt", crop_bytes(13, "PNG")),
    )
    response = client.post("/gallery", files=files)
    assert response.status_code == 429  # four images cannot fit an image queue of three
    assert int(response.headers["retry-after"]) >= 1
    for name, data in files[:3] + files[3:]:
        body = client.post("/gallery", files=[(name, data)]).json()
        assert body["added"] == 1, body


def test_a_broken_file_does_not_lose_the_good_ones(client: httpx.Client) -> None:
    before = client.get("/gallery").json()["total"]
    response = client.post(
        "/gallery",
        files=_files(("good1.png", crop_bytes(20)), ("bad.txt", b"nope"), ("good2.png", crop_bytes(21))),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [i["status"] for i in body["items"]] == ["added", "error", "added"]
    assert body["items"][1]["error"]["status"] == 415 and body["failed"] == 1
    assert client.get("/gallery").json()["total"] == before + 2


def test_request_level_limits(client: httpx.Client) -> None:
    too_many = _files(*[(f"f{i}.png", crop_bytes(30 + i)) for i in range(5)])
    assert assert_error_shape(client.post("/gallery", files=too_many), 413)["field"] == "files"
    huge = _files(("huge.png", os.urandom(70_000)))
    assert assert_error_shape(client.post("/gallery", files=huge), 413)["field"] == "body"
    assert_error_shape(client.post("/search", json={"text": "x" * 5000}), 413)
    long_field = client.post(
        "/gallery", files=_files(("ok.png", crop_bytes(41))), data={"metadata": "x" * 5_000}
    )
    assert "Part exceeded" in assert_error_shape(long_field, 413)["message"]


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"metadata": "{not json"}, "metadata"),
        ({"metadata": "[1, 2]"}, "metadata"),
        ({"captured_at": "yesterday-ish"}, "captured_at"),
        ({"camera": "c" * 500}, "camera"),
    ],
)
def test_bad_upload_fields_are_named(client: httpx.Client, form: dict[str, str], field: str) -> None:
    response = client.post("/gallery", files=_files(("ok.png", crop_bytes(40))), data=form)
    assert assert_error_shape(response, 422)["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "a" * 201}, "text"),
        ({"text": "red", "top_k": 0}, "top_k"),
        ({"text": "red", "top_k": 21}, "top_k"),
        ({"text": "red", "top_k": "many"}, "top_k"),
        ({"text": "red", "min_score": 2}, "min_score"),
        ({"text": "red", "filters": {"cameras": "gate"}}, "filters.cameras"),
        ({"text": "red", "colour": "blue"}, "colour"),
        ({"top_k": 3}, "text"),
    ],
)
def test_bad_search_fields_are_named(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert assert_error_shape(client.post("/search", json=body), 422)["field"] == field


def test_malformed_requests(client: httpx.Client) -> None:
    bad_json = client.post("/search", content=b"{text: ", headers={"content-type": "application/json"})
    assert_error_shape(bad_json, 422)
    assert assert_error_shape(client.get("/search", params={"q": "   "}), 422)["field"] == "text"
    assert_error_shape(client.get("/search"), 422)
    assert_error_shape(client.post("/gallery", data={"camera": "x"}), 422)
    assert_error_shape(client.get("/gallery/abc"), 422)
    assert_error_shape(client.get("/gallery/0"), 422)
    assert_error_shape(client.get("/gallery/999999"), 404)
    assert_error_shape(client.get("/no/such/route"), 404)
    assert_error_shape(client.put("/search", json={"text": "x"}), 405)


def test_openapi_carries_the_configured_limits(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    request = schema["components"]["schemas"]["SearchRequest"]["properties"]
    assert request["text"]["maxLength"] == 200 and request["top_k"]["maximum"] == 20
    query = {p["name"]: p["schema"] for p in schema["paths"]["/search"]["get"]["parameters"]}
    assert query["k"]["maximum"] == 20 and query["q"]["maxLength"] == 200


def test_server_and_gallery_survive(client: httpx.Client) -> None:
    assert client.get("/health").json()["ready"]
    page = client.get("/gallery", params={"limit": 500}).json()
    assert page["total"] == len(page["items"])
    for item in page["items"]:
        assert client.get(item["image_url"]).status_code == 200
    results = client.post("/search", json={"text": "person", "top_k": 20}).json()
    assert results["count"] == min(20, page["total"])


def test_any_metadata_key_filters(client: httpx.Client) -> None:
    """Keys SQLite's JSON paths cannot quote (a double quote, a dot, a line break) still filter."""
    odd = {'a"b': "x", "c.d[0]": 'say "hi"\nthere', "$": True}
    files = _files(("odd.png", crop_bytes(60)))
    item = client.post("/gallery", files=files, data={"metadata": json.dumps(odd)}).json()["items"][0]
    assert item["status"] == "added", item
    for key, value in odd.items():
        body = {"text": "person", "top_k": 20, "filters": {"metadata": {key: value}}}
        response = client.post("/search", json=body)
        assert response.status_code == 200, response.text
        assert [m["item"]["id"] for m in response.json()["matches"]] == [item["id"]], key
    together = {"text": "person", "filters": {"metadata": {'a"b': "x", "$": False}}}
    assert client.post("/search", json=together).json()["count"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"text": "x", "filters": {"metadata": {"k": 12345678901234567890123}}}', "filters.metadata.k"),
        (b'{"text": "x", "filters": {"metadata": {"k": NaN}}}', "filters.metadata.k"),
        (b'{"text": "x", "filters": {"metadata": {"k": "\\ud800"}}}', "filters.metadata.k"),
        (b'{"text": "x", "filters": {"metadata": {"\\ud800": "v"}}}', "filters.metadata.\\ud800"),
        (b'{"text": "x", "filters": {"cameras": ["\\udfff"]}}', "filters.cameras"),
    ],
)
def test_filter_values_the_gallery_cannot_compare_are_named(
    client: httpx.Client, body: bytes, field: str
) -> None:
    response = client.post("/search", content=body, headers={"content-type": "application/json"})
    assert assert_error_shape(response, 422)["field"] == field


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ('{"k": NaN}', "metadata.k"),
        ('{"k": [1, 1e999]}', "metadata.k[1]"),
        ('{"k": 123456789012345678901234567890}', "metadata.k"),  # Milvus would refuse it forever
        ('{"k": "\\ud800"}', "metadata.k"),  # no answer could ever carry it
        ('{"k": ' + "[" * 40 + "]" * 40 + "}", "metadata.k" + "[0]" * 32),
        ('{"k": ' + "[" * 1500 + "]" * 1500 + "}", "metadata"),  # beyond the JSON parser's own depth
    ],
)
def test_upload_metadata_the_gallery_cannot_store_is_named(
    client: httpx.Client, metadata: str, field: str
) -> None:
    before = client.get("/gallery").json()["total"]
    response = client.post("/gallery", files=_files(("m.png", crop_bytes(61))), data={"metadata": metadata})
    assert assert_error_shape(response, 422)["field"] == field
    assert client.get("/gallery").json()["total"] == before
