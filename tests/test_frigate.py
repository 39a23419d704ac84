"""The Frigate connector against a real mosquitto and a stand-in of Frigate's documented HTTP endpoints
(/api/events/<id>/snapshot.jpg and thumbnail.jpg): ended person events become gallery tracks with their
camera, times and event id, once each, however often the event is replayed."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import paho.mqtt.client as mqtt
from alert_helpers import Mosquitto, until
from PIL import Image
from service_live import LiveServer, live_settings

from cameras.frigate import parse_event

START = 1767600000.0  # 2026-01-05T08:00:00Z
FRAME = (360, 640)  # the stand-in's snapshot size (H, W)
BOX = [200, 60, 260, 250]  # x1, y1, x2, y2 of the person in the snapshot


def _jpeg(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=95)
    return out.getvalue()


class FrigateStandIn:
    """A stand-in for Frigate's HTTP API: a full-frame snapshot per event (as Frigate serves an ended
    event whose snapshot settings do not crop) and a small thumbnail; it counts the requests."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        rng = np.random.default_rng(7)
        frame = rng.integers(0, 60, (*FRAME, 3), np.uint8)
        x1, y1, x2, y2 = BOX
        frame[y1:y2, x1:x2] = (200, 30, 30)  # the person: a red figure
        self.snapshot, self.thumbnail = _jpeg(frame), _jpeg(frame[y1:y2, x1:x2])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                path = urlsplit(self.path).path
                body = outer.snapshot if path.endswith("/snapshot.jpg") else outer.thumbnail
                if not path.startswith("/api/events/") or not path.endswith((".jpg",)):
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def event(kind: str, event_id: str, label: str = "person", **after: Any) -> bytes:
    """A frigate/events message as Frigate's MQTT documentation shows it."""
    state = {
        "id": event_id,
        "camera": "front_door",
        "frame_time": START + 4,
        "snapshot": {"frame_time": START + 3, "box": BOX, "area": 11400, "score": 0.8},
        "label": label,
        "sub_label": None,
        "top_score": 0.9,
        "false_positive": False,
        "start_time": START,
        "end_time": START + 9 if kind == "end" else None,
        "score": 0.85,
        "box": [210, 70, 270, 255],
        "has_snapshot": True,
        "has_clip": False,
        **after,
    }
    return json.dumps({"type": kind, "before": state, "after": state}).encode()


def test_parse_takes_only_ended_true_persons() -> None:
    labels = ("person",)
    ended = parse_event(event("end", "a"), labels)
    assert ended is not None and ended.camera == "front_door" and ended.box == tuple(float(v) for v in BOX)
    assert (ended.start_time, ended.end_time, ended.frame_time) == (START, START + 9, START + 3)
    assert (
        parse_event(event("new", "a"), labels) is None and parse_event(event("update", "a"), labels) is None
    )
    assert parse_event(event("end", "b", label="car"), labels) is None
    assert parse_event(event("end", "c", false_positive=True), labels) is None
    assert (
        parse_event(b"not json", labels) is None
        and parse_event(b'{"type": "end", "after": 3}', labels) is None
    )


def test_ended_person_events_become_tracks_once(micro_bundle: Path, tmp_path: Path) -> None:
    frigate = FrigateStandIn()
    with Mosquitto(tmp_path) as broker:
        settings = live_settings(
            micro_bundle,
            tmp_path / "data",
            mqtt={"host": "127.0.0.1", "port": broker.port},
            frigate={"enabled": True, "url": frigate.url, "attempts": 1},
        )
        with LiveServer(settings) as server, server.client() as http:
            until("connected", lambda: http.get("/health").json()["frigate"]["connected"])
            publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="frigate-stand-in")
            publisher.connect("127.0.0.1", broker.port)
            publisher.loop_start()
            messages = [
                event("new", "1767600000.1-aaa"),
                event("update", "1767600000.1-aaa"),
                event("end", "1767600000.1-aaa"),
                event("end", "1767600000.2-car", label="car"),
                event("end", "1767600000.3-fp", false_positive=True),
                event("end", "1767600000.4-bbb", has_snapshot=False),
                event("end", "1767600000.1-aaa"),  # a replay
            ]
            for message in messages:
                publisher.publish("frigate/events", message, qos=1).wait_for_publish(5)
            status = until(
                "events handled", lambda: (f := http.get("/health").json()["frigate"])["events"] == 3 and f
            )
            status = until(
                "both stored", lambda: (f := http.get("/health").json()["frigate"])["added"] == 2 and f
            )
            until("the replay skipped", lambda: http.get("/health").json()["frigate"]["duplicate"] == 1)
            items = {i["external_id"]: i for i in http.get("/gallery").json()["items"]}
            assert set(items) == {"1767600000.1-aaa", "1767600000.4-bbb"} and status["failed"] == 0
            full = items["1767600000.1-aaa"]
            assert full["camera"] == "front_door" and full["captured_at"].startswith("2026-01-05T08:00:03")
            assert full["track"]["first_seen"].startswith("2026-01-05T08:00:00")
            assert full["track"]["last_seen"].startswith("2026-01-05T08:00:09")
            assert (
                full["box"] == BOX
                and full["frame_url"]
                and full["metadata"] == {"source": "frigate", "label": "person"}
            )
            crop = Image.open(io.BytesIO(http.get(full["image_url"]).content))
            assert crop.size == (BOX[2] - BOX[0], BOX[3] - BOX[1])  # cut from the full frame at the box
            assert np.asarray(crop.convert("RGB"))[..., 0].mean() > 150  # the red figure, not the background
            assert Image.open(io.BytesIO(http.get(full["frame_url"]).content)).size == (FRAME[1], FRAME[0])
            thumb = items["1767600000.4-bbb"]
            assert thumb["frame_url"] is None and thumb["track"] is not None
            assert any(r.endswith("/thumbnail.jpg") for r in frigate.requests)
            assert any("snapshot.jpg?crop=1" in r for r in frigate.requests)
            publisher.disconnect()
            publisher.loop_stop()
    frigate.close()
