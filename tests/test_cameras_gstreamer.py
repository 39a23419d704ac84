"""The optional GStreamer source: launch lines, caps, pixel conversion, and the reading loop for real.

The Jetson elements (nvv4l2decoder, nvvidconv) do not exist here, so the loop is run with software ones
(avdec_h264 when gstreamer1.0-libav is installed, else openh264dec; videoconvert) on Debian's GStreamer,
in a child process that can import the system's PyGObject (the virtual environment cannot). Nothing here
verifies the hardware path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from camera_helpers import SYSTEM_PYTHON, RtspServer, Walker, free_port, render, write_video

from cameras.gstreamer import (
    Codec,
    GstError,
    GstOptions,
    PixelFormat,
    VideoCaps,
    describe,
    parse_caps,
    to_rgb,
)
from cameras.sources import Decoder, SourceError, SourceOptions, read

REPO = Path(__file__).resolve().parents[1]
START = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
WALKERS = [
    Walker((230, 40, 40), (10, 30), (4, 0.2), (28, 70), 0, 40),
    Walker((50, 80, 230), (250, 20), (-3, 0.5), (30, 80), 5, 40),
]
SINK = "video/x-raw,format=RGBA ! appsink name=sink sync=false"


def test_launch_lines_for_rtsp_and_files() -> None:
    assert describe("rtsp://cam.example:554/s1", live=True) == (
        'rtspsrc location="rtsp://cam.example:554/s1" protocols=tcp latency=200 buffer-mode=none'
        f" ! rtph264depay ! h264parse ! nvv4l2decoder ! nvvidconv ! {SINK} max-buffers=2 drop=true"
    )
    hevc = GstOptions(codec=Codec.H265, pixel_format=PixelFormat.BGRX, latency_ms=50)
    assert describe("rtsps://u:p@cam/1", True, hevc, transport="udp") == (
        'rtspsrc location="rtsps://u:p@cam/1" protocols=udp latency=50 buffer-mode=none ! rtph265depay'
        " ! h265parse ! nvv4l2decoder ! nvvidconv ! video/x-raw,format=BGRx ! appsink name=sink sync=false"
        " max-buffers=2 drop=true"
    )
    assert describe("/v/a b.mp4", live=False) == (
        f'filesrc location="/v/a b.mp4" ! qtdemux ! h264parse ! nvv4l2decoder ! nvvidconv ! {SINK}'
        " max-buffers=8 drop=false"
    )
    soft = GstOptions(codec=Codec.H265, decoder="avdec_h265", converter="videoconvert")
    assert describe("file:///v/x.MKV", False, soft).startswith(
        'filesrc location="/v/x.MKV" ! matroskademux ! h265parse ! avdec_h265 ! videoconvert ! '
    )
    assert describe("/v/raw.h265", False, soft).startswith('filesrc location="/v/raw.h265" ! h265parse !')
    assert 'location="/v/say \\"hi\\" ! x.ts" ! tsdemux' in describe('/v/say "hi" ! x.ts', False)


@pytest.mark.parametrize(
    ("url", "live", "message"),
    [
        ("http://cam/mjpeg", True, r"rtsp\(s\):// streams and files, not http://"),
        ("/v/clip.avi", False, r"reads files named .*\.mp4.*, not clip\.avi"),
    ],
)
def test_what_the_gstreamer_source_cannot_read_is_refused(url: str, live: bool, message: str) -> None:
    with pytest.raises(GstError, match=message):
        describe(url, live)


def test_caps_are_parsed_from_the_appsink_string() -> None:
    text = (
        "video/x-raw, format=(string)BGRx, width=(int)1920, height=(int)1080, interlace-mode=(string)"
        'progressive, colorimetry=(string)"bt709", framerate=(fraction)30000/1001'
    )
    assert parse_caps(text) == VideoCaps(PixelFormat.BGRX, 1920, 1080, Fraction(30000, 1001))
    assert (
        parse_caps(
            "video/x-raw, format=(string)RGBA, width=(int)4, height=(int)2, framerate=(fraction)0/1"
        ).fps
        is None
    )
    for bad, message in [
        ("video/x-raw(memory:NVMM), format=(string)RGBA, width=(int)4, height=(int)2", "system memory"),
        ("video/x-raw, format=(string)NV12, width=(int)4, height=(int)2", "RGBA or BGRx"),
        ("video/x-raw, format=(string)RGBA, width=(int)4", "width and height"),
    ]:
        with pytest.raises(GstError, match=message):
            parse_caps(bad)


def test_buffers_become_rgb_whatever_the_format_and_row_padding() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, 5, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((3, 5, 1), 255, np.uint8)], axis=2)
    caps = VideoCaps(PixelFormat.RGBA, 5, 3, None)
    data = bytearray(rgba.tobytes())
    got = to_rgb(data, caps)
    np.testing.assert_array_equal(got, rgb)
    data[0] = (int(data[0]) + 1) % 256
    assert got[0, 0, 0] == rgb[0, 0, 0] and got.flags.c_contiguous  # a copy: the buffer can be unmapped
    padded = np.zeros((3, 32), np.uint8)  # rows 32 bytes apart, 20 of them pixels
    padded[:, :20] = rgba[..., [2, 1, 0, 3]].reshape(3, 20)  # BGRx
    bgrx = VideoCaps(PixelFormat.BGRX, 5, 3, None)
    np.testing.assert_array_equal(to_rgb(padded.tobytes()[:-12], bgrx, stride=32), rgb)  # no tail padding
    with pytest.raises(GstError, match="buffer of 59 bytes cannot hold 5x3 RGBA"):
        to_rgb(bytes(59), caps)
    with pytest.raises(GstError, match="rows 16 bytes apart"):
        to_rgb(bytes(100), caps, stride=16)


def test_without_pygobject_the_gstreamer_decoder_says_what_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = write_video(tmp_path / "v.mp4", render(WALKERS, 4, (60, 80)), fps=10)
    monkeypatch.setitem(sys.modules, "gi", None)  # import gi raises ImportError
    with pytest.raises(SourceError, match=r"v\.mp4: the gstreamer decoder needs PyGObject"):
        list(read(str(video), SourceOptions(decoder=Decoder.GSTREAMER)))


def _system_gi() -> Path | None:
    """A folder holding only the system Python's `gi` package, if this Python can import it."""
    if not Path(SYSTEM_PYTHON).exists():
        return None
    found = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi, os; print(os.path.dirname(gi.__file__))"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return Path(found.stdout.strip()) if found.returncode == 0 else None


@pytest.fixture(scope="module")
def gst_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a child that imports the repo and PyGObject; skips where that cannot work."""
    gi, inspect = _system_gi(), shutil.which("gst-inspect-1.0")
    if gi is None or inspect is None:
        pytest.skip("needs GStreamer with the system Python's PyGObject (python3-gi)")
    shim = tmp_path_factory.mktemp("gi")
    (shim / "gi").symlink_to(gi)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(REPO)])}
    probe = "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstVideo', '1.0')"
    if subprocess.run([sys.executable, "-c", probe], env=env, check=False).returncode:
        pytest.skip(f"this Python cannot import the system's PyGObject ({gi})")
    for decoder in ("avdec_h264", "openh264dec"):  # avdec_h264 needs gstreamer1.0-libav
        if subprocess.run([inspect, "--exists", decoder], check=False).returncode == 0:
            return {**env, "GST_TEST_DECODER": decoder}
    pytest.skip("no software H.264 decoder in GStreamer (gstreamer1.0-libav or -plugins-bad)")


def _gst_read(
    env: dict[str, str], source: str, out: Path, fps: float = 10, decoder: str | None = None
) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(REPO / "tests" / "gst_read.py"), source, str(out),
            decoder or env["GST_TEST_DECODER"], str(fps)]  # fmt: skip
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_file_read_through_gstreamer_matches_pyav(gst_env: dict[str, str], tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", render(WALKERS, 40, (120, 320)), fps=10, start=START)
    reference = list(read(str(video), SourceOptions(fps=10)))
    done = _gst_read(gst_env, str(video), tmp_path / "f.npz")
    assert done.returncode == 0, done.stderr
    got = np.load(tmp_path / "f.npz")
    assert got["index"].tolist() == [f.index for f in reference] == list(range(40))
    np.testing.assert_allclose(got["pts"], [f.pts_s for f in reference], atol=1e-6)
    assert got["times"].tolist() == [f.time.isoformat() for f in reference]  # creation_time, as PyAV reads it
    diff = np.abs(got["pixels"].astype(int) - np.stack([f.pixels for f in reference]).astype(int))
    assert diff.mean() < 3.0, diff.mean()  # the same H.264 decode; only the YUV to RGB conversion differs
    assert len(set(got["digests"].tolist())) == 40
    half = _gst_read(gst_env, video.as_uri(), tmp_path / "h.npz", fps=5)
    assert half.returncode == 0, half.stderr
    assert np.load(tmp_path / "h.npz")["index"].tolist() == list(range(0, 40, 2))  # the fps gate


@pytest.mark.slow
def test_an_rtsp_stream_read_through_gstreamer(gst_env: dict[str, str], tmp_path: Path) -> None:
    video = write_video(tmp_path / "cam.mp4", render(WALKERS, 30, (120, 320)), fps=10)
    with RtspServer(video, free_port()) as server:
        done = _gst_read(gst_env, server.url, tmp_path / "r.npz")
    assert done.returncode == 0, done.stderr
    got = np.load(tmp_path / "r.npz")
    reference = np.stack([f.pixels for f in read(str(video), SourceOptions(fps=10))])
    # A live source keeps up with real time: a reader that falls behind (a busy machine) has the appsink
    # drop the oldest frames, so most frames arrive, in order, each at its sender's time.
    sent = np.rint(got["pts"] * 10).astype(int)  # which of the 30 frames each one is
    np.testing.assert_allclose(got["pts"], sent / 10, atol=1e-3)  # the sender's times, on its 10 fps grid
    assert sent[0] == 0 and np.all(np.diff(sent) >= 1) and len(sent) >= 24, sent.tolist()
    assert got["index"].tolist() == list(range(len(sent)))
    assert np.abs(got["pixels"][-1].astype(int) - reference[sent[-1]].astype(int)).mean() < 3.0
    assert abs(datetime.fromisoformat(got["times"][0]) - datetime.now(UTC)).total_seconds() < 60


def test_gstreamer_failures_are_source_errors(gst_env: dict[str, str], tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", render(WALKERS, 10, (60, 80)), fps=10)
    missing = _gst_read(gst_env, str(video), tmp_path / "m.npz", decoder="nvv4l2decoder")  # no JetPack here
    assert missing.returncode == 3, missing.stderr
    assert 'v.mp4: cannot build the pipeline (no element "nvv4l2decoder")' in missing.stderr
    mpeg4 = tmp_path / "mpeg4.mp4"  # a camera whose codec is not the configured one (h264)
    with av.open(str(mpeg4), "w") as container:
        stream = container.add_stream("mpeg4", rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = 80, 60, "yuv420p"
        for pixels in render(WALKERS, 5, (60, 80)):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    wrong = _gst_read(gst_env, str(mpeg4), tmp_path / "w.npz")
    assert wrong.returncode == 3, wrong.stderr
    assert (
        "mpeg4.mp4: qtdemux0: Internal data stream error. (streaming stopped, reason not-linked"
        in wrong.stderr
    )
