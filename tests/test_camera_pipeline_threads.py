"""The pipeline's stages on their own threads: tracking runs behind detection, and a tracker failure ends
the read with its error instead of stalling the detector or the reader."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from camera_helpers import ColourDetector, Walker, render, write_video

from cameras.pipeline import CameraRunner, RunOptions
from cameras.sources import SourceOptions
from cameras.tracking import CameraTracker, TrackingOptions
from cameras.types import Boxes, Frame, Track

WALKERS = [Walker((230, 40, 40), (10, 40), (5, 0.1), (30, 76), 0, 60)]
FRAMES = 60


class NamingDetector(ColourDetector):
    """The colour detector, noting which thread called it."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def detect(self, frames: list) -> list[Boxes]:
        self.threads.add(threading.current_thread().name)
        return super().detect(frames)


class PreparingDetector(NamingDetector):
    """The colour detector split like engine.detector's: `prepare` per frame, then `detect_prepared`."""

    def __init__(self) -> None:
        super().__init__()
        self.prepared_on: set[str] = set()

    def prepare(self, frame: np.ndarray) -> tuple[str, np.ndarray]:
        self.prepared_on.add(threading.current_thread().name)
        return "prepared", frame

    def detect_prepared(self, prepared: list[tuple[str, np.ndarray]]) -> list[Boxes]:
        assert all(tag == "prepared" for tag, _ in prepared)
        return self.detect([frame for _, frame in prepared])


class NamingTracker(CameraTracker):
    """The pipeline's tracker, noting its threads; it raises at frame `fail_at` when given one."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__("door", TrackingOptions(fps=10))
        self.threads: set[str] = set()
        self.fail_at, self.frames = fail_at, 0

    def update(self, frame: Frame, boxes: Boxes) -> list[Track]:
        self.threads.add(threading.current_thread().name)
        self.frames += 1
        if self.frames == self.fail_at:
            raise RuntimeError("tracker bug at frame 10")
        return super().update(frame, boxes)


def _runner(tmp_path: Path, tracker: NamingTracker, read_ahead: int = 16) -> CameraRunner:
    video = write_video(tmp_path / "door.mp4", render(WALKERS, FRAMES, (120, 320)), fps=10)
    runner = CameraRunner(
        "door", str(video), NamingDetector(), lambda track: None, SourceOptions(fps=10),
        TrackingOptions(fps=10), RunOptions(batch=2, read_ahead=read_ahead, track_ahead=1),
    )  # fmt: skip
    runner.tracker = tracker
    return runner


def test_tracking_runs_on_its_own_thread_behind_detection(tmp_path: Path) -> None:
    tracker = NamingTracker()
    runner = _runner(tmp_path, tracker)
    detector = runner.detector
    assert isinstance(detector, NamingDetector)
    runner.run(threading.Event())
    assert tracker.threads == {"camera-door-track"} and "camera-door-track" not in detector.threads
    assert runner.stats.frames_out == FRAMES and runner.stats.tracks == 1


def test_a_detectors_input_is_prepared_on_the_reading_thread(tmp_path: Path) -> None:
    """Letterboxing runs ahead, beside decoding, so the detector's thread only runs the graph."""
    runner = _runner(tmp_path, NamingTracker())
    runner.detector = detector = PreparingDetector()
    runner.run(threading.Event())
    assert detector.prepared_on == {"camera-door-read"}
    assert detector.threads and "camera-door-read" not in detector.threads
    assert runner.stats.frames_out == FRAMES and runner.stats.tracks == 1  # the same result as unprepared


def test_a_tracker_failure_ends_the_read_with_its_error(tmp_path: Path) -> None:
    tracker = NamingTracker(fail_at=10)
    runner = _runner(tmp_path, tracker, read_ahead=2)  # small queues: a stalled stage would block them
    errors: list[BaseException] = []

    def run() -> None:
        try:
            runner.run(threading.Event())
        except RuntimeError as err:
            errors.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the pipeline hung after its tracker failed"
    (error,) = errors
    assert str(error) == "tracker bug at frame 10"
    assert tracker.frames == 10  # nothing tracked after the failure
    assert runner.stats.frames_in < FRAMES  # and the reader was halted: the rest of the file not read
    assert runner.stats.frames_out == 9


@pytest.mark.parametrize("batch", [1, 4])
def test_every_frame_is_tracked_in_order_at_any_batch(tmp_path: Path, batch: int) -> None:
    seen: list[int] = []

    class Ordered(NamingTracker):
        def update(self, frame: Frame, boxes: Boxes) -> list[Track]:
            seen.append(frame.index)
            return super().update(frame, boxes)

    runner = _runner(tmp_path, Ordered())
    runner.run_options = RunOptions(batch=batch, track_ahead=1)
    runner.run(threading.Event())
    assert seen == list(range(FRAMES))
