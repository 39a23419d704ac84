"""A camera on a real RTSP server (GStreamer's) that goes away mid-stream and comes back.

The server restarts its file from the beginning, as a camera box that reboots replays its buffer: the
frames already seen are recognised by their packets and skipped, the rest are processed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from camera_helpers import ColourDetector, RtspServer, Walker, free_port, render, write_video

from cameras.pipeline import CameraRunner, RunOptions
from cameras.sources import SourceOptions
from cameras.tracking import TrackingOptions
from cameras.types import Track

WALKERS = [Walker((230, 40, 40), (10, 30), (4, 0.0), (28, 70), 0, 60)]


def _wait(condition, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.mark.slow
def test_camera_reconnects_after_the_server_dies_and_returns(tmp_path: Path) -> None:
    video = write_video(tmp_path / "cam.mp4", render(WALKERS, 60, (120, 320)), fps=10)
    server = RtspServer(video, free_port()).start()
    tracks: list[Track] = []
    runner = CameraRunner(
        "door", server.url, ColourDetector(), tracks.append, SourceOptions(fps=10, read_timeout_s=3),
        TrackingOptions(fps=10, lost_s=1.0), RunOptions(batch=1, min_backoff_s=0.2, max_backoff_s=1.0),
    )  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        _wait(lambda: runner.stats.frames_out >= 10)
        assert runner.stats.connected
        server.kill()  # mid-stream
        _wait(lambda: not runner.stats.connected and runner.stats.last_error is not None)
        before = runner.stats.frames_out
        failures = runner.stats.reconnects
        _wait(lambda: runner.stats.reconnects >= failures + 2)  # retried while the server was away
        server.start()  # it plays the file from its start again
        _wait(lambda: runner.stats.frames_out >= before + 10)
        assert runner.stats.connected
        assert runner.stats.repeated >= before  # every frame seen before the outage is skipped
    finally:
        stop.set()
        thread.join(15)
        server.kill()
    assert not thread.is_alive()
    assert tracks and all(track.crops for track in tracks)
