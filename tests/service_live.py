"""Helpers for the service tests: a real uvicorn server on a free loopback port, and test images."""

from __future__ import annotations

import io
import socket
import struct
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvicorn
from PIL import Image

from service.app import create_app
from service.settings import Settings


def live_settings(bundle: Path, data_dir: Path, **groups: Any) -> Settings:
    """Settings for a test server: torch on CPU, a fresh data dir, overrides per group."""
    base: dict[str, Any] = {
        "model": {"bundle": bundle, "backend": "torch", "device": "cpu"},
        "index": {"data_dir": data_dir, "use_gpu": False},
    }
    for group, values in groups.items():
        base.setdefault(group, {}).update(values)
    return Settings(**base)


class LiveServer:
    """create_app(settings) served by uvicorn in a thread; waits until /health says ready."""

    def __init__(self, settings: Settings, wait_ready: bool = True, port: int = 0) -> None:
        self.settings, self.wait_ready = settings, wait_ready
        self.app = create_app(settings)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", port))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # ask /health only once uvicorn listens: before that the bound socket refuses connections
            if self.server.started and (
                not self.wait_ready or httpx.get(f"{self.url}/health").status_code == 200
            ):
                return self
            time.sleep(0.05)
        raise TimeoutError(f"server at {self.url} not ready: {httpx.get(f'{self.url}/health').text}")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTP client bound to this server."""
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)


def crop_bytes(seed: int, fmt: str = "PNG", size: tuple[int, int] = (48, 24)) -> bytes:
    """A distinct person-crop-shaped image (H, W) encoded as fmt."""
    rng = np.random.default_rng(seed)
    h, w = size
    pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def png_bomb(width: int = 60000, height: int = 60000) -> bytes:
    """A tiny PNG whose header claims width x height pixels (refused before any decoding)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\x00" * (width + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def assert_error_shape(response: httpx.Response, status: int) -> dict[str, Any]:
    """The stable error shape with the expected status; returns the inner error object."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    return dict(error)
