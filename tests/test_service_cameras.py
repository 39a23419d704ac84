"""Cameras in the service: added over the API, read from a real RTSP server, tracks into the gallery and
search, the stream dying and returning without harm, and persistence across a restart."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from camera_helpers import ColourDetector, RtspServer, Walker, free_port, render, write_video
from service_live import LiveServer, assert_error_shape, live_settings

from index.records import DB_FILE

WALKERS = [
    Walker((230, 40, 40), (10, 40), (5, 0.1), (30, 76), 0, 30),
    Walker((40, 200, 60), (280, 30), (-6, 0.1), (26, 70), 35, 70),
]


def _server(bundle: Path, data: Path, detector: bool = True, **groups: Any) -> LiveServer:
    settings = live_settings(bundle, data, cameras={"lost_s": 0.6, "min_frames": 2, **groups})
    server = LiveServer(settings)
    server.app.state.runtime.load_detector = lambda s: ColourDetector() if detector else None
    return server


def _until(what: str, check: Callable[[], Any], within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _camera(http: httpx.Client, name: str) -> dict[str, Any]:
    return next(c for c in http.get("/cameras").json() if c["name"] == name)


@pytest.mark.slow
def test_a_camera_feeds_the_gallery_survives_an_outage_and_restarts_with_the_service(
    micro_bundle: Path, tmp_path: Path
) -> None:
    video = write_video(tmp_path / "door.mp4", render(WALKERS, 75, (120, 320)), fps=10)
    rtsp = RtspServer(video, free_port()).start()
    data = tmp_path / "gallery"
    try:
        with _server(micro_bundle, data) as server, server.client() as http:
            made = http.post("/cameras", json={"name": "door", "url": rtsp.url, "fps": 10})
            assert made.status_code == 201, made.text
            _until("the first track's crops", lambda: _camera(http, "door")["crops"] > 0)
            assert http.get("/search", params={"q": "a person in red", "k": 3}).status_code == 200
            rtsp.kill()  # mid-stream: search keeps answering while the camera retries
            _until("the camera to notice", lambda: not _camera(http, "door")["connected"])
            for _ in range(5):
                assert http.get("/search", params={"q": "a person", "k": 3}).status_code == 200
            rtsp.start()  # replays the file from its start
            _until("the second walker", lambda: _camera(http, "door")["tracks"] >= 2, within=40)
            camera = _camera(http, "door")
            assert camera["reconnects"] >= 1 and camera["last_error"]
            hits = http.get("/search", params={"q": "a person", "k": 20}).json()["matches"]
            crops = [h["item"] for h in hits if h["item"]["camera"] == "door"]
            assert crops and all(c["track"] and c["frame_url"] and c["box"] for c in crops)
            assert len({c["sha256"] for c in crops}) == len(crops)
            health = http.get("/health").json()
            assert health["cameras"][0]["name"] == "door" and health["detector"]["loaded"]
            metrics = http.get("/metrics").text
            assert 'person_search_camera_tracks_total{camera="door"}' in metrics
        rtsp.kill()  # (stopping the server stored the tracks still open)
        stored = sqlite3.connect(data / DB_FILE).execute("SELECT COUNT(*) FROM items").fetchone()[0]
        with _server(micro_bundle, data) as server, server.client() as http:  # a restart
            camera = _camera(http, "door")
            assert camera["running"] and camera["url"] == rtsp.url
            assert len(http.get("/gallery", params={"camera": "door"}).json()["items"]) == stored
            assert http.delete("/cameras/door").json() == {"name": "door", "removed": True}
            assert http.get("/cameras").json() == []
            assert_error_shape(http.delete("/cameras/door"), 404)
    finally:
        rtsp.kill()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "url": "file:///etc/passwd"}, "url"),
        ({"name": "x", "url": "/var/lib/cam.mp4"}, "url"),
        ({"name": "x", "url": "ftp://cam.example/live"}, "url"),
        ({"name": "bad name!", "url": "rtsp://cam.example/live"}, "name"),
        ({"name": "x", "url": "rtsp://cam.example/live", "fps": 0}, "fps"),
    ],
)
def test_only_network_cameras_with_valid_fields_are_accepted(
    micro_bundle: Path, tmp_path: Path, body: dict[str, Any], field: str
) -> None:
    with _server(micro_bundle, tmp_path) as server, server.client() as http:
        error = assert_error_shape(http.post("/cameras", json=body), 422)
        assert field in str(error)
        assert http.get("/cameras").json() == []


def test_cameras_need_a_detector_and_unreachable_ones_do_no_harm(micro_bundle: Path, tmp_path: Path) -> None:
    with _server(micro_bundle, tmp_path / "a", detector=False) as server, server.client() as http:
        off = assert_error_shape(
            http.post("/cameras", json={"name": "x", "url": "rtsp://127.0.0.1:9/x"}), 503
        )
        assert "PERSON_SEARCH_CAMERAS__DETECTOR" in off["message"]
        assert http.get("/health").json()["detector"]["loaded"] is False
    with _server(micro_bundle, tmp_path / "b", max_backoff_s=0.5) as server, server.client() as http:
        url = f"rtsp://127.0.0.1:{free_port()}/nobody"
        assert http.post("/cameras", json={"name": "gone", "url": url}).status_code == 201
        camera = _until("the error", lambda: (c := _camera(http, "gone"))["last_error"] and c)
        assert not camera["connected"] and "cannot open" in camera["last_error"]
        assert_error_shape(http.post("/cameras", json={"name": "gone", "url": url}), 409)
        assert http.get("/search", params={"q": "anyone"}).status_code == 200


def test_the_decoder_setting_reaches_the_cameras(
    micro_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gi", None)  # no PyGObject: the gstreamer source says so
    with (
        _server(micro_bundle, tmp_path, decoder="gstreamer", max_backoff_s=0.5) as server,
        server.client() as http,
    ):
        url = f"rtsp://127.0.0.1:{free_port()}/cam"
        assert http.post("/cameras", json={"name": "hw", "url": url}).status_code == 201
        camera = _until("the error", lambda: (c := _camera(http, "hw"))["last_error"] and c)
        assert "the gstreamer decoder needs PyGObject" in camera["last_error"]
