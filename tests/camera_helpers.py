"""Test scenes for the camera pipeline: coloured people walking over a grey floor, and a detector for them.

`ColourDetector` is a real detector for these scenes (it finds each person by its unique colour in the
decoded pixels); it stands in for the person detector model, which the camera tests do not need.
"""

from __future__ import annotations

import socket
import subprocess
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cameras.types import Boxes

BACKGROUND = 90
COLOURS = [(230, 40, 40), (40, 200, 60), (50, 80, 230), (240, 220, 30)]


@dataclass(frozen=True)
class Walker:
    """A person as a coloured box moving in a straight line from frame `enter` to frame `leave`."""

    colour: tuple[int, int, int]
    start: tuple[float, float]  # top-left at `enter`
    velocity: tuple[float, float]  # pixels per frame
    size: tuple[int, int]  # (w, h)
    enter: int
    leave: int

    def box(self, frame: int) -> tuple[int, int, int, int] | None:
        """Its box (x1, y1, x2, y2) at this frame, or None when not there."""
        if not self.enter <= frame < self.leave:
            return None
        t = frame - self.enter
        x, y = self.start[0] + self.velocity[0] * t, self.start[1] + self.velocity[1] * t
        return round(x), round(y), round(x) + self.size[0], round(y) + self.size[1]


def render(walkers: list[Walker], frames: int, size: tuple[int, int]) -> list[np.ndarray]:
    """The frames of a scene: textured walkers (so crops are sharp) over a flat background."""
    h, w = size
    rng = np.random.default_rng(0)
    out = []
    for k in range(frames):
        pixels = np.full((h, w, 3), BACKGROUND, np.uint8)
        for walker in walkers:
            box = walker.box(k)
            if box is None:
                continue
            x1, y1, x2, y2 = max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)
            if x2 <= x1 or y2 <= y1:
                continue
            stripes = (np.arange(y2 - y1)[:, None] // 4 % 2).astype(np.int16) * 25
            patch = np.clip(np.array(walker.colour, np.int16) - stripes[..., None], 0, 255)
            pixels[y1:y2, x1:x2] = patch.astype(np.uint8) + rng.integers(
                0, 3, (y2 - y1, x2 - x1, 3), np.uint8
            )
        out.append(pixels)
    return out


def write_video(path: Path, frames: list[np.ndarray], fps: int, start: datetime | None = None) -> Path:
    """H.264 mp4 of the frames through PyAV, with creation_time when `start` is given."""
    with av.open(str(path), "w") as container:
        if start is not None:
            container.metadata["creation_time"] = start.isoformat()
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for pixels in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


class ColourDetector:
    """Finds each walker of a test scene by its colour; score 0.9 per box."""

    def __init__(self, colours: list[tuple[int, int, int]] = COLOURS, tolerance: int = 45) -> None:
        self.colours, self.tolerance = np.array(colours, np.int16), tolerance
        self.calls = 0

    def detect(self, frames: list[np.ndarray]) -> list[Boxes]:
        """One box per colour present in each frame."""
        self.calls += 1
        return [self._one(frame) for frame in frames]

    def _one(self, frame: np.ndarray) -> Boxes:
        boxes = []
        for colour in self.colours:
            mask = (np.abs(frame.astype(np.int16) - colour).max(axis=2) < self.tolerance).astype(np.uint8)
            ys, xs = np.nonzero(mask)
            if len(xs) > 30:
                boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        if not boxes:
            return Boxes(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
        return Boxes(np.array(boxes, np.float32), np.full(len(boxes), 0.9, np.float32))


class RtspServer:
    """tests/rtsp_server.py in a child process (the system Python, which has GStreamer's bindings)."""

    def __init__(self, video: Path, port: int, mount: str = "/cam") -> None:
        self.video, self.port, self.mount = video, port, mount
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        """Where clients connect."""
        return f"rtsp://127.0.0.1:{self.port}{self.mount}"

    def start(self) -> RtspServer:
        """Start serving; returns once the server listens."""
        script = Path(__file__).with_name("rtsp_server.py")
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(script), str(self.video), str(self.port), self.mount],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the RTSP server did not start (said {line!r})")
        return self

    def kill(self) -> None:
        """Stop at once, mid-stream, as a camera that loses power."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


SYSTEM_PYTHON = "/usr/bin/python3"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


GALLERY_START = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)
GALLERY_WALKERS = [
    Walker((230, 40, 40), (10, 40), (3, 0.1), (30, 76), 0, 50),  # they never cross
    Walker((40, 200, 60), (280, 30), (-2, 0.1), (26, 70), 10, 45),
    Walker((50, 80, 230), (60, 20), (3, 0.2), (28, 80), 62, 90),
]


def camera_gallery(root: Path, bundle: Path) -> Path:
    """A gallery directory a real camera pipeline filled from a video of three walkers (camera "hall")."""
    from cameras.pipeline import CameraRunner
    from cameras.sources import SourceOptions
    from cameras.tracking import TrackingOptions
    from engine import load_encoder
    from index import Gallery
    from service.track_writer import TrackWriter

    video = write_video(
        root / "hall.mp4", render(GALLERY_WALKERS, 95, (120, 320)), fps=10, start=GALLERY_START
    )
    encoder = load_encoder(bundle, backend="torch")
    with Gallery.open(root / "gallery", encoder.model_id, encoder.embed_dim) as gallery:
        options = TrackingOptions(fps=10, crops_per_track=3, frame_jpeg_width=160)
        sink = TrackWriter(gallery, encoder.encode_images, video.name)
        CameraRunner("hall", str(video), ColourDetector(), sink, SourceOptions(fps=10), options).run(
            threading.Event()
        )
    return root / "gallery"
