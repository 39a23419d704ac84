"""Investigation over HTTP: search by example (crop, track, uploaded image), one result per track, a track
in time order, and the evidence export; on crops a real camera pipeline stored from a real video."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from camera_helpers import camera_gallery
from service_live import LiveServer, assert_error_shape, crop_bytes, live_settings


@pytest.fixture(scope="module")
def http(micro_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A live server over a gallery a camera pipeline filled from a video with three walkers."""
    data = camera_gallery(tmp_path_factory.mktemp("investigation"), micro_bundle)
    with LiveServer(live_settings(micro_bundle, data)) as server, server.client() as client:
        yield client


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _tracks(http: httpx.Client) -> dict[int, list[dict[str, Any]]]:
    items = http.get("/gallery", params={"limit": 100}).json()["items"]
    out: dict[int, list[dict[str, Any]]] = {}
    for item in items:
        out.setdefault(item["track"]["id"], []).append(item)
    return out


def test_like_a_crop_finds_it_first_and_an_unknown_id_is_404(http: httpx.Client) -> None:
    tracks = _tracks(http)
    assert len(tracks) == 3
    item = next(iter(tracks.values()))[0]
    found = http.post("/search", json={"like": {"item_id": item["id"]}, "top_k": 5}).json()
    assert found["matches"][0]["item"]["id"] == item["id"] and found["matches"][0]["score"] > 0.999
    assert found["example"] == {"item_id": item["id"]} and found["query"] is None
    by_get = http.get("/search", params={"like_item": item["id"], "k": 5}).json()
    assert [m["item"]["id"] for m in by_get["matches"]] == [m["item"]["id"] for m in found["matches"]]
    assert_error_shape(http.post("/search", json={"like": {"item_id": 999999}}), 404)
    assert_error_shape(http.post("/search", json={"like": {"track_id": 999999}}), 404)
    assert_error_shape(http.post("/search", json={"like": {"item_id": 1, "track_id": 1}}), 422)
    assert assert_error_shape(http.post("/search", json={"top_k": 3}), 422)["field"] == "text"


def test_group_by_track_gives_one_result_per_person_with_its_crop_count(http: httpx.Client) -> None:
    tracks = _tracks(http)
    grouped = http.post("/search", json={"text": "a person", "top_k": 10, "group_by": "track"}).json()
    assert grouped["group_by"] == "track" and grouped["count"] == 3
    assert {m["item"]["track"]["id"] for m in grouped["matches"]} == set(tracks)
    for match in grouped["matches"]:
        assert match["crops"] == len(tracks[match["item"]["track"]["id"]])
    ungrouped = http.post("/search", json={"text": "a person", "top_k": 10}).json()
    assert (
        ungrouped["count"] == sum(len(v) for v in tracks.values())
        and ungrouped["matches"][0]["crops"] is None
    )
    timed = http.get("/search", params={"q": "a person", "group_by": "track", "order": "time"}).json()
    firsts = [_when(m["item"]["track"]["first_seen"]) for m in timed["matches"]]
    assert firsts == sorted(firsts) and len(firsts) == 3


def test_like_a_track_an_uploaded_image_and_a_mix_with_text(http: httpx.Client) -> None:
    track_id, crops = next(iter(_tracks(http).items()))
    like_track = http.post("/search", json={"like": {"track_id": track_id}, "group_by": "track"}).json()
    assert like_track["matches"][0]["item"]["track"]["id"] == track_id
    image = http.get(crops[0]["image_url"]).content
    uploaded = http.post("/search", files={"image": ("q.jpg", image, "image/jpeg")}).json()
    assert uploaded["matches"][0]["item"]["id"] == crops[0]["id"]
    assert uploaded["example"]["image_sha256"] == crops[0]["sha256"]
    rest = json.dumps({"text": "a person", "text_weight": 0.2, "top_k": 2, "group_by": "track"})
    mixed = http.post(
        "/search", files={"image": ("q.jpg", image, "image/jpeg")}, data={"request": rest}
    ).json()
    assert mixed["query"] == "a person" and mixed["count"] == 2
    not_image = http.post("/search", files={"image": ("q.txt", b"plain words", "text/plain")})
    assert_error_shape(not_image, 415)
    assert_error_shape(http.post("/search", files={"photo": ("q.jpg", image, "image/jpeg")}), 422)


def test_a_track_in_time_order(http: httpx.Client) -> None:
    track_id, crops = next(iter(_tracks(http).items()))
    track = http.get(f"/tracks/{track_id}").json()
    times = [_when(i["captured_at"]) for i in track["items"]]
    assert track["camera"] == "hall" and times == sorted(times) and len(times) == len(crops)
    assert _when(track["first_seen"]) <= times[0] and times[-1] <= _when(track["last_seen"])
    assert_error_shape(http.get("/tracks/999999"), 404)


def test_evidence_export_holds_crops_frames_and_a_manifest_that_checks_out(http: httpx.Client) -> None:
    answer = http.post("/export", json={"search": {"text": "a person", "top_k": 4}})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["search"]["text"] == "a person" and manifest["exported_by"] == "anonymous"
    assert manifest["count"] == 4 and manifest["items"][0]["rank"] == 1
    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert [int(r["item_id"]) for r in rows] == [i["item_id"] for i in manifest["items"]]
    import hashlib

    for entry in manifest["items"]:
        assert hashlib.sha256(archive.read(entry["crop_file"])).hexdigest() == entry["sha256"]
        assert archive.read(entry["frame_file"]).startswith(b"\xff\xd8") and entry["camera"] == "hall"
    track_id = manifest["items"][0]["track_id"]
    by_track = zipfile.ZipFile(io.BytesIO(http.post("/export", json={"tracks": [track_id]}).content))
    assert {i["track_id"] for i in json.loads(by_track.read("manifest.json"))["items"]} == {track_id}
    assert_error_shape(http.post("/export", json={"tracks": [999999]}), 404)
    assert_error_shape(http.post("/export", json={"tracks": [1], "items": [1]}), 422)


def test_an_upload_without_a_track_is_its_own_group(http: httpx.Client) -> None:
    added = http.post("/gallery", files={"files": ("u.png", crop_bytes(77), "image/png")}).json()
    item_id = added["items"][0]["id"]
    found = http.post("/search", json={"like": {"item_id": item_id}, "group_by": "track", "top_k": 4}).json()
    assert found["matches"][0]["item"]["id"] == item_id and found["matches"][0]["crops"] == 1
    assert found["matches"][0]["item"]["track"] is None
    http.delete(f"/gallery/{item_id}")
