"""Frames through GStreamer, for a Jetson's hardware H.264/H.265 decoder (`nvv4l2decoder`).

UNVERIFIED ON A JETSON. Written for GStreamer 1.x as JetPack ships it (nvv4l2decoder decodes on NVDEC,
nvvidconv copies to system memory as RGBA); tested only with software elements (openh264dec,
videoconvert) on Debian's GStreamer 1.22. Thin by design: one launch line

    rtspsrc | filesrc ! demux ! <codec>parse ! decoder ! converter ! video/x-raw,format=RGBA ! appsink

pulled one sample at a time, the fps gate applied before a buffer is mapped. The launch line, caps
parsing and the pixel conversion are plain functions; only `frames` touches GStreamer. It needs
PyGObject (`gi`) with the Gst and GstVideo typelibs, which pip does not install (python3-gi and
gir1.2-gst-plugins-base-1.0 on Debian and JetPack, for their system Python).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from cameras.types import Frame

DEMUXERS = {".mp4": "qtdemux", ".mov": "qtdemux", ".m4v": "qtdemux", ".mkv": "matroskademux",
            ".ts": "tsdemux"}  # fmt: skip
ELEMENTARY = frozenset({".h264", ".264", ".h265", ".265", ".hevc"})  # raw Annex B streams: no demuxer
POLL_S = 0.25  # how often a wait for a sample looks at the bus for errors


class Codec(StrEnum):
    """The video codec of a GStreamer source (it picks the depayloader and the parser)."""

    H264 = "h264"
    H265 = "h265"


class PixelFormat(StrEnum):
    """What the converter hands to the appsink: 4 bytes a pixel, which nvvidconv writes to system memory."""

    RGBA = "RGBA"
    BGRX = "BGRx"


@dataclass(frozen=True)
class GstOptions:
    """The GStreamer source's elements; the defaults are JetPack's hardware ones."""

    codec: Codec = Codec.H264
    decoder: str = "nvv4l2decoder"  # software: avdec_h264 / avdec_h265 (gstreamer1.0-libav), openh264dec
    converter: str = "nvvidconv"  # software: videoconvert
    pixel_format: PixelFormat = PixelFormat.RGBA
    latency_ms: int = 200  # rtspsrc's jitter buffer


class GstError(Exception):
    """A GStreamer source that cannot be built, started or read, and why."""


@dataclass(frozen=True)
class VideoCaps:
    """The raw video an appsink receives."""

    pixel_format: PixelFormat
    width: int
    height: int
    fps: Fraction | None


def _quoted(value: str) -> str:
    """A property value for a launch line, quoted so spaces, '!' and quotes stay in it."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def describe(url: str, live: bool, options: GstOptions = GstOptions(), transport: str = "tcp") -> str:
    """The launch line that decodes `url`: an rtsp(s):// stream when `live`, else a path or file:// URI."""
    codec = options.codec.value
    if live:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("rtsp", "rtsps"):
            raise GstError(f"the gstreamer decoder reads rtsp(s):// streams and files, not {scheme}://")
        head = f"rtspsrc location={_quoted(url)} protocols={transport} latency={options.latency_ms}"
        head += f" buffer-mode=none ! rtp{codec}depay"  # pts from the sender's RTP times, not arrival times
    else:
        path = Path(urlsplit(url).path) if url.startswith("file:") else Path(url)
        suffix = path.suffix.lower()
        if suffix not in DEMUXERS and suffix not in ELEMENTARY:
            known = sorted([*DEMUXERS, *ELEMENTARY])
            raise GstError(f"the gstreamer decoder reads files named {', '.join(known)}, not {path.name}")
        head = f"filesrc location={_quoted(str(path))}"
        head += f" ! {DEMUXERS[suffix]}" if suffix in DEMUXERS else ""
    sink = f"appsink name=sink sync=false max-buffers={2 if live else 8} drop={str(live).lower()}"
    raw = f"video/x-raw,format={options.pixel_format.value}"
    return f"{head} ! {codec}parse ! {options.decoder} ! {options.converter} ! {raw} ! {sink}"


_FIELD = re.compile(r'([\w-]+)=\((\w+)\)("(?:[^"\\]|\\.)*"|[^,;]+)')


def parse_caps(text: str) -> VideoCaps:
    """An appsink's caps string (`video/x-raw, format=(string)RGBA, width=(int)640, ...`) as VideoCaps."""
    media = text.split(",", 1)[0].strip()
    if media != "video/x-raw":
        raise GstError(f"caps {text!r}: expected video/x-raw in system memory, got {media}")
    fields = {key: value.strip().strip('"') for key, _, value in _FIELD.findall(text)}
    try:
        pixel_format = PixelFormat(fields.get("format", ""))
        width, height = int(fields["width"]), int(fields["height"])
    except (KeyError, ValueError):
        raise GstError(f"caps {text!r}: need format RGBA or BGRx, width and height") from None
    rate = fields.get("framerate")
    fps = Fraction(rate) if rate and rate != "0/1" else None
    return VideoCaps(pixel_format, width, height, fps)


def to_rgb(data: bytes | memoryview, caps: VideoCaps, stride: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a mapped 4-byte-per-pixel buffer with rows `stride` bytes apart (a copy)."""
    w, h = caps.width, caps.height
    stride = stride or 4 * w
    flat = np.frombuffer(data, np.uint8)
    need = stride * (h - 1) + 4 * w
    if stride < 4 * w or flat.size < need:
        shape = f"{w}x{h} {caps.pixel_format} with rows {stride} bytes apart"
        raise GstError(f"a buffer of {flat.size} bytes cannot hold {shape}")
    pixels = np.lib.stride_tricks.as_strided(flat[:need], (h, w, 4), (stride, 4, 1), writeable=False)
    rgb = pixels[..., :3] if caps.pixel_format is PixelFormat.RGBA else pixels[..., 2::-1]
    return np.ascontiguousarray(rgb)


def _gst() -> tuple[Any, Any, Any]:
    """Gst, GstVideo and GLib from PyGObject, initialised; GstError when they are missing."""
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstVideo", "1.0")
        from gi.repository import GLib, Gst, GstVideo
    except (ImportError, ValueError) as err:
        raise GstError(f"the gstreamer decoder needs PyGObject with GStreamer 1.x typelibs ({err})") from err
    Gst.init(None)
    return Gst, GstVideo, GLib


def _bus_error(gst: Any, bus: Any) -> str | None:
    """The first error a pipeline posted, as 'element: message', or None."""
    message = bus.pop_filtered(gst.MessageType.ERROR)
    if message is None:
        return None
    err, debug = message.parse_error()
    detail = debug.strip().splitlines()[-1] if debug and debug.strip() else ""  # e.g. "reason not-linked"
    return f"{message.src.get_name()}: {err.message}" + (f" ({detail})" if detail else "")


def _pull(gst: Any, sink: Any, bus: Any, timeout_s: float) -> Any:
    """The next sample, None at end of stream; GstError on a pipeline error or after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        sample = sink.emit("try-pull-sample", int(POLL_S * gst.SECOND))
        if sample is not None:
            return sample
        if (error := _bus_error(gst, bus)) is not None:
            raise GstError(error)
        if sink.get_property("eos"):
            return None
        if time.monotonic() > deadline:
            raise GstError(f"no frame for {timeout_s:g} s")


def frames(
    description: str,
    keep: Callable[[float], bool],
    start: datetime | None,
    open_timeout_s: float = 10.0,
    read_timeout_s: float = 10.0,
) -> Iterator[Frame]:
    """Frames of a launch line ending in `appsink name=sink`; `keep(pts_s)` chooses which are mapped.

    Frame times are `start` (else the clock when the pipeline starts) plus the pts since the first frame."""
    gst, gst_video, glib = _gst()
    try:
        pipeline = gst.parse_launch(description)
    except glib.Error as err:
        raise GstError(f"cannot build the pipeline ({err.message})") from err
    sink, bus = pipeline.get_by_name("sink"), pipeline.get_bus()
    start = start or datetime.now(UTC)
    if pipeline.set_state(gst.State.PLAYING) == gst.StateChangeReturn.FAILURE:
        pipeline.set_state(gst.State.NULL)
        raise GstError(_bus_error(gst, bus) or "the pipeline did not start")
    index, first, caps_text, caps = -1, None, "", None
    try:
        while (sample := _pull(gst, sink, bus, open_timeout_s if index < 0 else read_timeout_s)) is not None:
            index += 1
            if (text := sample.get_caps().to_string()) != caps_text:
                caps_text, caps = text, parse_caps(text)
            assert caps is not None
            buffer = sample.get_buffer()
            stamped = buffer.pts != gst.CLOCK_TIME_NONE
            pts = buffer.pts / gst.SECOND if stamped else index / float(caps.fps or 25)
            first = pts if first is None else first
            if not keep(pts - first):
                continue
            meta = gst_video.buffer_get_video_meta(buffer)
            ok, mapped = buffer.map(gst.MapFlags.READ)
            if not ok:
                raise GstError(f"frame {index}: the buffer could not be mapped")
            try:
                pixels = to_rgb(mapped.data, caps, meta.stride[0] if meta is not None else None)
            finally:
                buffer.unmap(mapped)
            digest = hashlib.blake2b(pixels.tobytes(), digest_size=16).digest()
            yield Frame(pixels, start + timedelta(seconds=pts - first), index, pts - first, digest)
    finally:
        pipeline.set_state(gst.State.NULL)
    if index < 0:
        raise GstError("no frame could be decoded")
