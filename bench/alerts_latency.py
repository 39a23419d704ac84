"""Alert latency from frame time to webhook and to MQTT delivery, p50/p99, at demo scale.

A real service (uvicorn, the given bundle on ONNX Runtime or torch) with a gallery of background crops
and watchlists made from pictures of a few people; crops of those people are then uploaded one by one
with `captured_at` = the moment they are sent (their frame time), and a local webhook receiver and an
MQTT subscriber (a real mosquitto) note when each alert arrives. A camera adds its track-end wait
(cameras.lost_s, 2 s by default) before the crops reach the service; that wait is not in these numbers.
`python -m bench.alerts_latency --bundle BUNDLE`
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import paho.mqtt.client as mqtt
import uvicorn
from PIL import Image

from service.app import create_app
from service.settings import Settings

SECRET = "bench-secret"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _picture(rng: np.random.Generator, base: np.ndarray | None = None) -> tuple[np.ndarray, bytes]:
    """A blocky person-shaped picture (or a slightly noisy copy of `base`) and its PNG bytes."""
    pixels = rng.integers(0, 256, (8, 4, 3)).astype(np.float32) if base is None else base
    noisy = np.clip(pixels + (rng.normal(0, 2, pixels.shape) if base is not None else 0), 0, 255)
    image = Image.fromarray(noisy.astype(np.uint8)).resize((48, 128), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return pixels, out.getvalue()


class Arrivals:
    """When each alert (by uid) reached the webhook receiver and the MQTT subscriber."""

    def __init__(self, mqtt_port: int) -> None:
        self.webhook: dict[str, float] = {}
        self.mqtt: dict[str, float] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.webhook.setdefault(body["uid"], time.time())
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-subscriber")
        self.client.on_message = lambda c, u, m: self.mqtt.setdefault(
            json.loads(m.payload)["uid"], time.time()
        )
        self.client.connect("127.0.0.1", mqtt_port)
        self.client.subscribe("bench/alerts/#", qos=1)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.http.shutdown()


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ms = np.array(values) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def run(bundle: Path, people: int, sightings: int, background: int, gap_s: float) -> dict[str, Any]:
    """Serve, fill the gallery, watch, upload sightings, collect arrival times."""
    work = Path(tempfile.mkdtemp(prefix="alerts-latency-"))
    broker_port, port = _port(), _port()
    config = work / "mosquitto.conf"
    config.write_text(f"listener {broker_port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    broker = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    arrivals = Arrivals(broker_port)
    settings = Settings(
        model={"bundle": bundle},
        index={"data_dir": work / "data", "use_gpu": False},
        alerts={"webhook_urls": [arrivals.url], "webhook_secret": SECRET, "mqtt_topic_prefix": "bench"},
        mqtt={"host": "127.0.0.1", "port": broker_port},
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    url, rng = f"http://127.0.0.1:{port}", np.random.default_rng(0)
    try:
        with httpx.Client(base_url=url, timeout=60) as http:
            while not server.started or http.get("/health").status_code != 200:
                time.sleep(0.2)
            for start in range(0, background, 64):
                files = [
                    ("files", (f"b{i}.png", _picture(rng)[1], "image/png"))
                    for i in range(start, min(background, start + 64))
                ]
                http.post("/gallery", files=files).raise_for_status()
            bases = []
            for p in range(people):
                base, png = _picture(rng)
                bases.append(base)
                http.post(
                    "/watchlists",
                    files={"image": ("q.png", png, "image/png")},
                    data={"name": f"person {p}", "sensitivity": "0.3"},
                ).raise_for_status()
            sent: dict[int, float] = {}
            for k in range(sightings):
                _, png = _picture(rng, bases[k % people])
                moment = time.time()
                body = http.post(
                    "/gallery",
                    files={"files": ("s.png", png, "image/png")},
                    data={"captured_at": datetime.fromtimestamp(moment, UTC).isoformat()},
                ).json()
                sent[body["items"][0]["id"]] = moment
                time.sleep(gap_s)
            deadline = time.time() + 60
            while time.time() < deadline:
                alerts = http.get("/alerts", params={"limit": 500}).json()["alerts"]
                mine = [a for a in alerts if a["item_id"] in sent]
                if mine and all(a["uid"] in arrivals.webhook and a["uid"] in arrivals.mqtt for a in mine):
                    break
                time.sleep(0.2)
            health = http.get("/health").json()
    finally:
        server.should_exit = True
        time.sleep(1)
        arrivals.close()
        broker.terminate()
    frame = {a["uid"]: datetime.fromisoformat(a["time"]).timestamp() for a in mine}
    return {
        "bench": "alerts_latency", "load": os.getloadavg(), "backend": health["backend"],
        "gallery": health["gallery_size"], "watchlists": people, "sightings": sightings, "alerts": len(mine),
        "webhook": _percentiles([arrivals.webhook[u] - t for u, t in frame.items() if u in arrivals.webhook]),
        "mqtt": _percentiles([arrivals.mqtt[u] - t for u, t in frame.items() if u in arrivals.mqtt]),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Print p50/p99 per channel."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--people", type=int, default=20, help="watchlists")
    parser.add_argument("--sightings", type=int, default=200, help="crops uploaded that should alert")
    parser.add_argument("--background", type=int, default=1000, help="crops stored before the watchlists")
    parser.add_argument("--gap-s", type=float, default=0.05, help="pause between sightings")
    args = parser.parse_args(argv)
    result = run(args.bundle, args.people, args.sightings, args.background, args.gap_s)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
