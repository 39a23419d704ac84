"""Frames from a video file, a folder of frames, or a network stream (RTSP/RTSPS, HTTP(S) MJPEG or HLS).

Decoding goes through PyAV (FFmpeg), or through GStreamer when `decoder` is `gstreamer` (cameras.gstreamer:
the Jetson's hardware decoder, for RTSP streams and video files). Only the frames the detector needs are
converted to pixels: a gate keeps one frame per 1/fps seconds of stream time. Each frame gets a
wall-clock time so crops from cameras and uploads share one timeline: a file's frames are its start time
plus their pts (the start time given, else the file's creation_time tag, else its modification time less
its duration); a live stream's frames are the clock when it connected plus their pts. Each frame carries
a digest of its decoded luma, so a camera can tell frames it has already seen after a reconnect. A file
whose frames end over a second before the duration it declares is refused as truncated once it has been
read (so whoever must not keep a partial file's tracks holds them until the read ends).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

from cameras.gstreamer import GstError, GstOptions, describe, frames
from cameras.types import Frame

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream

NETWORK_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})
FRAME_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
TRUNCATION_SLACK_S = 1.0  # a file may end this much before its declared duration


class SourceKind(StrEnum):
    """Where frames come from."""

    FILE = "file"
    FOLDER = "folder"
    NETWORK = "network"


class Decoder(StrEnum):
    """What decodes video files and streams (a folder of images is always read with PIL)."""

    PYAV = "pyav"
    GSTREAMER = "gstreamer"


class SourceError(Exception):
    """A source that cannot be opened or read, with what it was and why."""


@dataclass(frozen=True)
class SourceOptions:
    """How to read a source."""

    fps: float = 10.0  # frames per second handed on (at most; fewer if the source has fewer)
    start_time: datetime | None = None  # wall-clock time of a file's first frame
    open_timeout_s: float = 10.0
    read_timeout_s: float = 10.0
    rtsp_transport: str = "tcp"
    decoder: Decoder = Decoder.PYAV
    gstreamer: GstOptions = field(default_factory=GstOptions)  # its elements, when decoder is gstreamer


def kind_of(url: str) -> SourceKind:
    """What a source string names; a network URL must use one of NETWORK_SCHEMES."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in NETWORK_SCHEMES:
        return SourceKind.NETWORK
    if scheme not in ("", "file") and len(scheme) > 1:  # 'C:' is a drive, not a scheme
        raise SourceError(
            f"{url}: unsupported scheme {scheme!r} (use one of {sorted(NETWORK_SCHEMES)} or a path)"
        )
    path = Path(urlsplit(url).path if scheme == "file" else url)
    if path.is_dir():
        return SourceKind.FOLDER
    if not path.is_file():
        raise SourceError(f"{url}: no such file or folder")
    return SourceKind.FILE


class FpsGate:
    """Keeps one frame per 1/fps seconds of stream time."""

    def __init__(self, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.period: float = 1.0 / fps
        self._due: float | None = None

    def keep(self, pts_s: float) -> bool:
        """Whether the frame at pts_s is handed on."""
        due = self._due
        if due is not None and pts_s + 1e-6 < due:
            return False
        base = pts_s if due is None or pts_s - due > self.period else due  # resync after a gap
        self._due = base + self.period
        return True


def read(url: str, options: SourceOptions = SourceOptions()) -> Iterator[Frame]:
    """The frames of one source, one connection: ends at end of file or stream, raises SourceError."""
    kind = kind_of(url)
    if kind is SourceKind.FOLDER:
        yield from _folder(Path(url), options)
    elif options.decoder is Decoder.GSTREAMER:
        yield from _gstreamer(url, kind, options)
    else:
        yield from _container(url, kind, options)


def _folder(root: Path, options: SourceOptions) -> Iterator[Frame]:
    """Image files in name order, one frame each, 1/fps apart from the start time."""
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in root.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.is_file())
    if not files:
        raise SourceError(f"{root}: no frames ({', '.join(sorted(FRAME_SUFFIXES))}) in this folder")
    start = options.start_time or datetime.fromtimestamp(files[0].stat().st_mtime, UTC)
    for index, path in enumerate(files):
        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))
        except (UnidentifiedImageError, OSError) as err:
            raise SourceError(f"{path}: not a readable image ({err})") from err
        pts = index / options.fps
        yield Frame(pixels, start + timedelta(seconds=pts), index, pts)


def _gstreamer(url: str, kind: SourceKind, options: SourceOptions) -> Iterator[Frame]:
    """Frames decoded by GStreamer; a file's start time is read with PyAV (tags only, no decoding)."""
    live = kind is SourceKind.NETWORK
    start = None
    if not live:
        with _open(url, options) as container:
            start = _start_time(container, url, kind, options)
    try:
        line = describe(url, live, options.gstreamer, options.rtsp_transport)
        gate = FpsGate(options.fps)
        yield from frames(line, gate.keep, start, options.open_timeout_s, options.read_timeout_s)
    except GstError as err:
        raise SourceError(f"{url}: {err}") from err


def _open(url: str, options: SourceOptions) -> InputContainer:
    """An opened PyAV container, or SourceError naming the source."""
    import av

    container_options = {"rtsp_transport": options.rtsp_transport} if url.startswith("rtsp") else {}
    try:
        return av.open(
            url, options=container_options, timeout=(options.open_timeout_s, options.read_timeout_s)
        )
    except av.error.FFmpegError as err:
        what = "cannot open" if urlsplit(url).scheme.lower() in NETWORK_SCHEMES else "cannot open as a video"
        raise SourceError(f"{url}: {what} ({err.strerror or err})") from err
    except OSError as err:
        raise SourceError(f"{url}: cannot open ({err.strerror or err})") from err


def _container(url: str, kind: SourceKind, options: SourceOptions) -> Iterator[Frame]:
    """Decoded video frames of a file or stream, thinned to the target fps."""
    import av

    container = _open(url, options)
    with container:
        if not container.streams.video:
            raise SourceError(f"{url}: no video stream in it")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = _start_time(container, url, kind, options) or datetime.now(UTC)
        gate, index, first_pts, last_pts = FpsGate(options.fps), -1, None, 0.0
        rate = float(stream.average_rate or 25)
        try:
            for decoded in container.decode(stream):
                index += 1
                pts = decoded.time if decoded.time is not None else index / rate
                first_pts = pts if first_pts is None else first_pts
                last_pts = max(last_pts, pts - first_pts)
                if not gate.keep(pts - first_pts):
                    continue
                rel = pts - first_pts
                digest = hashlib.blake2b(bytes(decoded.planes[0]), digest_size=16).digest()  # the luma
                pixels = decoded.to_ndarray(format="rgb24")
                yield Frame(pixels, start + timedelta(seconds=rel), index, rel, digest)
        except av.error.FFmpegError as err:
            raise SourceError(f"{url}: stream failed after {index + 1} frames ({err})") from err
        if index < 0:
            raise SourceError(f"{url}: no frame could be decoded")
        if kind is SourceKind.FILE:
            _check_complete(url, container, stream, last_pts + 1.0 / rate)


def declared_seconds(container: InputContainer, stream: VideoStream) -> float | None:
    """How long a file says its video lasts: the stream's duration, else a video-only container's."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration and len(container.streams) == 1:
        return container.duration / 1e6
    return None


def _check_complete(url: str, container: InputContainer, stream: VideoStream, decoded_s: float) -> None:
    """Refuse a file whose frames end well before the duration its header declares (a truncated file)."""
    declared = declared_seconds(container, stream)
    slack = max(TRUNCATION_SLACK_S, 2.0 / float(stream.average_rate or 25))
    if declared is not None and declared - decoded_s > slack:
        raise SourceError(
            f"{url}: truncated: its frames end at {decoded_s:.1f} s of the {declared:.1f} s it declares"
        )


def expected_frames(url: str, fps: float) -> int | None:
    """About how many frames a file hands on at `fps` (for progress bars); None when it does not say."""
    import av

    try:
        with av.open(url) as container:
            stream = container.streams.video[0]
            seconds = declared_seconds(container, stream)
            rate = float(stream.average_rate or 0)
    except (av.error.FFmpegError, OSError, IndexError):
        return None
    if seconds is None or rate <= 0:
        return None
    return round(seconds * min(rate, fps))


def _start_time(
    container: InputContainer, url: str, kind: SourceKind, options: SourceOptions
) -> datetime | None:
    """A file's first-frame wall time; None for live streams (their clock when they connect)."""
    if kind is SourceKind.NETWORK:
        return None
    if options.start_time is not None:
        return options.start_time
    tag = container.metadata.get("creation_time")
    if tag:
        try:
            return datetime.fromisoformat(tag.replace("Z", "+00:00"))
        except ValueError:
            pass
    duration = (container.duration or 0) / 1e6
    return datetime.fromtimestamp(os.stat(url).st_mtime, UTC) - timedelta(seconds=duration)
