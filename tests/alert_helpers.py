"""Helpers for the alert tests: a gallery of known unit vectors, an engine over it, a webhook receiver."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from PIL import Image

from alerts.delivery import Deliveries, DeliveryOptions
from alerts.engine import AlertEngine, EngineOptions
from alerts.store import AlertStore
from alerts.watchlists import QueryKind, WatchlistSpec
from alerts.webhook import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from index import Gallery, ItemMeta, TrackRef

DIM = 8
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def unit(vector: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length."""
    v = np.asarray(vector, np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def png(seed: int) -> bytes:
    """A distinct small PNG."""
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (16, 8, 3), np.uint8)).save(out, "PNG")
    return out.getvalue()


class Feeder:
    """Adds crops with chosen vectors to a gallery: background noise, tracks, uploads."""

    def __init__(self, gallery: Gallery, seed: int = 0) -> None:
        self.gallery, self.rng, self.n = gallery, np.random.default_rng(seed), 10_000 * (seed + 1)

    def noise(self, count: int, camera: str = "hall") -> list[int]:
        """Crops pointing anywhere but along axis 0 (the watched direction)."""
        vectors = self.rng.normal(size=(count, DIM))
        vectors[:, 0] = -np.abs(vectors[:, 0])
        return self.add(unit(vectors), [ItemMeta(camera=camera, captured_at=T0)] * count)

    def near(self, axis: int, count: int, spread: float = 0.1) -> np.ndarray:
        """Unit vectors close to one axis."""
        vectors = self.rng.normal(scale=spread, size=(count, DIM))
        vectors[:, axis] += 1.0
        return unit(vectors)

    def track(self, key: str, vectors: np.ndarray, camera: str = "hall") -> list[int]:
        """One camera track's crops."""
        ref = TrackRef(key, T0, T0 + timedelta(seconds=5))
        metas = [
            ItemMeta(camera=camera, captured_at=T0 + timedelta(seconds=i), track=ref)
            for i in range(len(vectors))
        ]
        return self.add(vectors, metas)

    def add(self, vectors: np.ndarray, metas: list[ItemMeta]) -> list[int]:
        """Store crops (distinct bytes each)."""
        images = []
        for _ in metas:
            self.n += 1
            images.append(png(self.n))
        return [r.id for r in self.gallery.add(images, vectors, metas)]


def engine_for(gallery: Gallery, options: DeliveryOptions | None = None, **engine: Any) -> AlertEngine:
    """An alert engine over a gallery (not started: tests step it with process_once)."""
    deliveries = Deliveries(gallery.records, AlertStore(gallery.records), options or DeliveryOptions())
    return AlertEngine(gallery.records, gallery.model_id, gallery.dim, EngineOptions(**engine), deliveries)


def watch(vector: np.ndarray, name: str = "w", sensitivity: float = 0.5, **extra: Any) -> WatchlistSpec:
    """A watchlist spec for a direction."""
    return WatchlistSpec(name, QueryKind.DESCRIPTION, unit(vector), "m", sensitivity, text=name, **extra)


class Receiver:
    """A real HTTP webhook receiver on a loopback port that checks signatures and can be down."""

    def __init__(self, secret: str, port: int = 0) -> None:
        self.secret, self.received, self.keys, self.bad = secret, [], [], 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify(
                    outer.secret, body, self.headers[TIMESTAMP_HEADER], self.headers[SIGNATURE_HEADER]
                )
                if ok:
                    outer.received.append(json.loads(body))
                    outer.keys.append(self.headers[KEY_HEADER])
                else:
                    outer.bad += 1
                self.send_response(200 if ok else 401)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Go down (the port then refuses connections)."""
        self.server.shutdown()
        self.server.server_close()


def open_gallery(path: Path) -> Gallery:
    """A Flat gallery of DIM-d vectors."""
    return Gallery.open(path, "m", DIM, use_gpu=False)


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mosquitto:
    """A real mosquitto broker (Debian's) on a free loopback port, for as long as the block runs."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.config = directory / f"mosquitto-{self.port}.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Mosquitto:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen([binary, "-c", str(self.config)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise TimeoutError(f"mosquitto did not listen on {self.port}")

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(10)


class Subscriber:
    """An MQTT client collecting what arrives on a topic filter."""

    def __init__(self, port: int, topic: str) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{port}")
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def until(what: str, check: Callable[[], Any], within: float = 30.0) -> Any:
    """Poll until check() is truthy; its value."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
