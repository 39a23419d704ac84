"""Frigate as a source: its ended person events (MQTT `<prefix>/events`) as crops, fetched over its API.

Frigate publishes one `frigate/events` message per change of a tracked object: `type` new, update or
end, with the object's state `before` and `after` (id, camera, label, start_time, end_time,
has_snapshot, false_positive, box, and in recent versions the snapshot's own frame_time and box). An
event is taken when it ends. Its picture: `GET /api/events/<id>/snapshot.jpg?crop=1&bbox=0&timestamp=0`;
Frigate applies those query parameters only while an event is in progress and serves an ended one as
its snapshot settings say, so a full frame that comes back is cropped here to the snapshot's box (and
kept as the evidence frame). Without a snapshot, `GET /api/events/<id>/thumbnail.jpg` (always stored)
is the crop. The sink the service gives stores it; replays are the sink's to recognise.
"""

from __future__ import annotations

import io
import json
import logging
import queue
import threading
import time
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import paho.mqtt.client as mqtt
from PIL import Image

log = logging.getLogger(__name__)
MAX_FRAME_PIXELS = 50_000_000
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FrigateEvent:
    """An ended tracked object, as Frigate's MQTT message describes it."""

    id: str
    camera: str
    label: str
    start_time: float  # Unix seconds
    end_time: float
    frame_time: float | None  # of the snapshot frame
    has_snapshot: bool
    box: Box | None  # x1, y1, x2, y2 of the object in the snapshot frame (pixels)


@dataclass(frozen=True)
class FrigateCrop:
    """The picture of one event: the crop, and the whole frame it was cut from when there is one."""

    event: FrigateEvent
    crop: bytes  # JPEG
    frame: bytes | None
    box: Box | None  # where the crop lies in `frame`


def _box(value: Any) -> Box | None:
    if isinstance(value, list) and len(value) == 4 and all(isinstance(v, int | float) for v in value):
        x1, y1, x2, y2 = (float(v) for v in value)
        return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None
    return None


def parse_event(payload: bytes, labels: Collection[str]) -> FrigateEvent | None:
    """An ended, true-positive event of a wanted label; None for anything else (or a malformed message)."""
    try:
        message = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(message, dict) or message.get("type") != "end":
        return None
    after = message.get("after")
    if not isinstance(after, dict) or after.get("label") not in labels or after.get("false_positive"):
        return None
    event_id, camera, start = after.get("id"), after.get("camera"), after.get("start_time")
    if not (isinstance(event_id, str) and isinstance(camera, str) and isinstance(start, int | float)):
        return None
    end = after.get("end_time")
    snapshot: dict[str, Any] = after["snapshot"] if isinstance(after.get("snapshot"), dict) else {}
    frame_time = snapshot.get("frame_time", after.get("frame_time"))
    return FrigateEvent(
        id=event_id,
        camera=camera,
        label=str(after["label"]),
        start_time=float(start),
        end_time=float(end) if isinstance(end, int | float) and end >= start else float(start),
        frame_time=float(frame_time) if isinstance(frame_time, int | float) else None,
        has_snapshot=bool(after.get("has_snapshot")),
        box=_box(snapshot.get("box")) or _box(after.get("box")),
    )


def _get(url: str, timeout_s: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return bytes(response.read())


def fetch_crop(base_url: str, event: FrigateEvent, timeout_s: float) -> FrigateCrop:
    """The event's crop from Frigate's HTTP API (see the module docstring for which picture)."""
    api = f"{base_url.rstrip('/')}/api/events/{quote(event.id, safe='')}"
    if not event.has_snapshot:
        return FrigateCrop(event, _get(f"{api}/thumbnail.jpg", timeout_s), None, None)
    data = _get(f"{api}/snapshot.jpg?crop=1&bbox=0&timestamp=0", timeout_s)
    box = event.box
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        if width * height > MAX_FRAME_PIXELS:
            raise ValueError(f"Frigate's snapshot of {event.id} is {width}x{height}: too large")
        whole = box is not None and box[2] <= width and box[3] <= height
        if box is None or not whole or (box[2] - box[0]) * (box[3] - box[1]) > 0.5 * width * height:
            return FrigateCrop(event, data, None, None)  # already a crop (or no box to cut with)
        out = io.BytesIO()
        x1, y1, x2, y2 = (round(v) for v in box)
        image.convert("RGB").crop((x1, y1, x2, y2)).save(out, format="JPEG", quality=92)
    return FrigateCrop(event, out.getvalue(), data, box)


@dataclass(frozen=True)
class FrigateOptions:
    """Where Frigate and its broker are."""

    url: str
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str = "person-search-frigate"
    topic_prefix: str = "frigate"
    labels: tuple[str, ...] = ("person",)
    timeout_s: float = 10.0
    attempts: int = 3


class FrigateListener:
    """Subscribes to Frigate's events; a worker fetches each ended one and hands it to the sink."""

    def __init__(self, options: FrigateOptions, sink: Callable[[FrigateCrop], str]) -> None:
        self.options, self.sink = options, sink
        self.counts = {"events": 0, "added": 0, "duplicate": 0, "failed": 0}
        self.last_error: str | None = None
        self._events: queue.Queue[FrigateEvent | None] = queue.Queue()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=options.client_id, clean_session=False
        )
        if options.username is not None:
            self.client.username_pw_set(options.username, options.password)
        self.client.on_connect = self._subscribe
        self.client.on_message = self._received
        self._worker = threading.Thread(target=self._work, name="frigate-events", daemon=True)

    @property
    def topic(self) -> str:
        """The topic Frigate publishes its events on."""
        return f"{self.options.topic_prefix.strip('/')}/events"

    def start(self) -> None:
        """Connect (and keep reconnecting) and start the worker."""
        self._worker.start()
        self.client.reconnect_delay_set(1, 30)
        self.client.connect_async(self.options.host, self.options.port, 30)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect and let the worker finish the event in hand."""
        self.client.disconnect()
        self.client.loop_stop()
        self._events.put(None)
        self._worker.join(30)

    def _subscribe(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        client.subscribe(self.topic, qos=1)

    def _received(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        """The network thread: parse and queue, never block on HTTP."""
        event = parse_event(bytes(message.payload), self.options.labels)
        if event is not None:
            self.counts["events"] += 1
            self._events.put(event)

    def _work(self) -> None:
        while (event := self._events.get()) is not None:
            self._take(event)

    def _take(self, event: FrigateEvent) -> None:
        """Fetch one event's crop (a few attempts: the snapshot may still be being written) and store it."""
        o = self.options
        for attempt in range(1, o.attempts + 1):
            try:
                self.counts[self.sink(fetch_crop(o.url, event, o.timeout_s))] += 1
                return
            except Exception as exc:
                self.last_error = f"event {event.id}: {type(exc).__name__}: {exc}"
                log.warning("Frigate %s (attempt %d of %d)", self.last_error, attempt, o.attempts)
                if attempt < o.attempts:
                    time.sleep(min(5.0, 0.5 * 2**attempt))
        self.counts["failed"] += 1

    def status(self) -> dict[str, Any]:
        """For /health: connected, counts of events, crops added, replays skipped, failures."""
        return {
            "connected": self.client.is_connected(),
            "topic": self.topic,
            **self.counts,
            "last_error": self.last_error,
        }
