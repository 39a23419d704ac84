"""/search p99 while the service reads one camera from a real RTSP server, against no camera.

A real server (`person-search serve` under uvicorn, in its own process, with the demo detector and a
demo-model gallery) is searched on a fixed schedule by one keep-alive client; phases alternate: no camera,
then one camera added through POST /cameras (GStreamer's RTSP server streaming a synthetic scene in real
time; timing starts once the camera processes frames), removed again through DELETE /cameras. Goal: p99
with the camera <= 1.5x p99 without. Run: `python -m bench.camera_search`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.camera_common import SceneSpec, first_camera, percentiles_ms, work_root
from bench.camera_pipeline import VIDEO
from bench.machine import REPO, describe, load_average
from bench.service_harness import (
    JsonClient,
    ServerProcess,
    build_gallery,
    demo_bundle,
    free_port,
    queries,
    service_args,
)

GOAL = 1.5
SYSTEM_PYTHON = "/usr/bin/python3"  # has GStreamer's Python bindings (Debian's python3-gi)
RTSP_SCRIPT = REPO / "tests" / "rtsp_server.py"


class RtspServer:
    """tests/rtsp_server.py in the system Python: one mp4 served in real time at rtsp://127.0.0.1:PORT/cam."""

    def __init__(self, video: Path) -> None:
        self.port = free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(RTSP_SCRIPT), str(video), str(self.port), "/cam"],
            stdout=subprocess.PIPE,
            text=True,
        )
        said = self.process.stdout.readline() if self.process.stdout else ""
        if said.strip() != "ready":
            self.process.kill()
            raise RuntimeError(f"the RTSP server did not start (it said {said!r})")

    def __enter__(self) -> RtspServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.wait(10)


def camera(client: JsonClient, name: str) -> dict[str, Any] | None:
    """GET /cameras' entry for one camera."""
    return next((c for c in client.get_json("/cameras") if c["name"] == name), None)


def wait_until_processing(client: JsonClient, name: str, within_s: float = 90.0) -> None:
    """Return once the camera has put frames through the detector."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        state = camera(client, name)
        if state and state["frames"] > 0:
            return
        time.sleep(0.2)
    raise TimeoutError(f"camera {name} processed no frame in {within_s:.0f} s: {camera(client, name)}")


Samples = dict[str, list[float]]  # "http" (the client's) and each server-side stage -> ms per search


def search_phase(client: JsonClient, texts: list[str], seconds: float, interval_s: float) -> Samples:
    """Searches every `interval_s` for `seconds`; each one's latency in ms, and the server's stage times."""
    latencies: Samples = {"http": []}
    start = time.perf_counter()
    for i, text in enumerate(texts):
        due = start + i * interval_s
        if due - start > seconds:
            break
        time.sleep(max(0.0, due - time.perf_counter()))
        t0 = time.perf_counter()
        status, body = client.post("/search", {"text": text, "top_k": 10})
        latencies["http"].append(1e3 * (time.perf_counter() - t0))
        if status != 200:
            raise RuntimeError(f"/search answered {status}: {body[:200]!r}")
        for stage, ms in json.loads(body).get("timings_ms", {}).items():
            latencies.setdefault(stage, []).append(ms)
    return latencies


def _extend(into: Samples, more: Samples) -> None:
    for key, values in more.items():
        into.setdefault(key, []).extend(values)


def phases(
    port: int, rtsp: RtspServer, rounds: int, seconds: float, interval_s: float, fps: float
) -> tuple[dict[str, Samples], list[dict[str, Any]]]:
    """Alternate none / camera phases; latencies per phase kind and each camera phase's camera state."""
    client = JsonClient(port)
    per_phase = int(seconds / interval_s) + 2
    texts = queries(2 * rounds * per_phase + 20, seed=7)
    search_phase(client, texts[:20], 20 * interval_s, interval_s)  # warm-up
    latencies: dict[str, Samples] = {"none": {}, "one camera": {}}
    cameras = []
    for r in range(rounds):
        block = texts[20 + 2 * r * per_phase :]
        _extend(latencies["none"], search_phase(client, block[:per_phase], seconds, interval_s))
        name = f"bench-{r}"
        made, body = client.post("/cameras", {"name": name, "url": rtsp.url, "fps": fps})
        if made != 201:
            raise RuntimeError(f"POST /cameras answered {made}: {body[:300]!r}")
        wait_until_processing(client, name)
        _extend(latencies["one camera"], search_phase(client, block[per_phase:], seconds, interval_s))
        cameras.append(camera(client, name) or {})
        client.conn.request("DELETE", f"/cameras/{name}")
        client.conn.getresponse().read()
    return latencies, cameras


def run(
    rounds: int = 2,
    seconds: float = 15.0,
    searches_per_s: float = 10.0,
    gallery_size: int = 2000,
    arch: str = "PS-Tiny",
    fps: float = 10.0,
    video: dict[str, Any] | None = None,
    trained: bool = True,
    workdir: str | Path | None = None,
) -> dict[str, Any]:
    """p50/p90/p99 of /search with and without one camera streaming, and their ratio."""
    load_start = load_average()
    spec = SceneSpec(**(video or VIDEO))
    stream, detector = first_camera(work_root(workdir), spec, trained)
    with tempfile.TemporaryDirectory(prefix="bench-camera-search-") as tmp:
        bundle = demo_bundle(Path(tmp) / "bundle", arch)
        build_gallery(bundle, Path(tmp) / "gallery", gallery_size, "onnxruntime")
        port = free_port()
        env = {"PERSON_SEARCH_CAMERAS__DETECTOR": str(detector)}
        args = service_args(bundle, Path(tmp) / "gallery", port, "onnxruntime")
        with RtspServer(stream) as rtsp, ServerProcess(args, port, env):
            latencies, cameras = phases(port, rtsp, rounds, seconds, 1.0 / searches_per_s, fps)
    stats = {name: percentiles_ms(samples["http"]) for name, samples in latencies.items()}
    server = {
        name: {stage: percentiles_ms(ms)["p99_ms"] for stage, ms in samples.items() if stage != "http"}
        for name, samples in latencies.items()
    }
    ratio = stats["one camera"]["p99_ms"] / stats["none"]["p99_ms"]
    return {
        "bench": "camera_search",
        "arch": arch,
        "gallery_size": gallery_size,
        "searches_per_s": searches_per_s,
        "rounds": rounds,
        "seconds_per_phase": seconds,
        "stream": {**spec.__dict__, "size": list(spec.size), "read_fps": fps, "detector_trained": trained},
        "search": stats,
        "server_stage_p99_ms": server,  # where the time went, from each response's timings_ms
        "p99_camera_over_none": round(ratio, 3),
        "p50_camera_over_none": round(stats["one camera"]["p50_ms"] / stats["none"]["p50_ms"], 3),
        "goal": GOAL,
        "goal_met": ratio <= GOAL,
        "cameras": [
            {k: c.get(k) for k in ("fps_in", "fps_out", "frames", "tracks", "crops", "last_error")}
            for c in cameras
        ],
        "load_average": {"start": load_start, "end": load_average()},
        "machine": describe(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="scenes and the detector, kept")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=15.0, help="per phase")
    parser.add_argument("--searches-per-s", type=float, default=10.0)
    parser.add_argument("--untrained", action="store_true", help="an untrained tiny detector (smoke)")
    args = parser.parse_args()
    result = run(
        args.rounds, args.seconds, args.searches_per_s, trained=not args.untrained, workdir=args.workdir
    )
    print(json.dumps(result, indent=2))
