"""The camera pipeline's parts: quality, crop choice, sources through PyAV, and tracking end to end."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from camera_helpers import ColourDetector, Walker, render, write_video

from cameras.pipeline import CameraRunner, RunOptions
from cameras.quality import overlap_fraction, qualities, sharpness
from cameras.selection import CropChooser
from cameras.sources import FpsGate, SourceError, SourceKind, SourceOptions, kind_of, read
from cameras.tracking import TrackingOptions
from cameras.types import Boxes, Crop, Track

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
WALKERS = [
    Walker((230, 40, 40), (-30, 40), (6, 0.3), (28, 70), 0, 40),  # enters from the left edge
    Walker((40, 200, 60), (300, 30), (-5, 0.2), (24, 64), 5, 45),
    Walker((50, 80, 230), (160, 20), (1.0, 0.4), (30, 80), 46, 70),  # after the green one has left
]


def _crop(t: float, q: float) -> Crop:
    return Crop(np.zeros((4, 2, 3), np.uint8), (0, 0, 2, 4), START + timedelta(seconds=t), 0, q, b"", 1.0)


def test_sharpness_prefers_detail_and_quality_penalises_edges_and_overlap() -> None:
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 256, (64, 32)).astype(np.float32)
    blurred = (sharp + np.roll(sharp, 1, 0) + np.roll(sharp, 1, 1) + np.roll(sharp, 2, 0)) / 4
    assert sharpness(sharp) > 4 * sharpness(blurred)

    frame = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    inside, at_edge = [100, 50, 140, 178], [0, 50, 40, 178]
    q = qualities(frame, Boxes(np.array([inside, at_edge], np.float32), np.array([0.9, 0.9], np.float32)))
    assert q[0] > 2 * q[1]  # the same size and sharpness, but cut by the frame edge

    over = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [50, 50, 60, 60]], np.float32)
    assert overlap_fraction(over).tolist() == pytest.approx([0.5, 0.5, 0.0])


def test_crop_chooser_is_bounded_lazy_and_spreads_over_the_track() -> None:
    chooser, made = CropChooser(k=3, capacity=8, bin_s=0.1), []
    rng = np.random.default_rng(1)
    for i in range(1000):
        t, q = i * 0.1, float(rng.uniform(0.1, 0.5))
        chooser.offer(t, q, lambda t=t, q=q: made.append(t) or _crop(t, q))
        assert len(chooser) <= 8
    chooser.offer(50.0, 0.99, lambda: _crop(50.0, 0.99))  # the best moment of the track is kept
    chosen = chooser.choose()
    seconds = [(c.time - START).total_seconds() for c in chosen]
    assert len(chosen) == 3 and seconds == sorted(seconds)
    assert [int(s // 33.4) for s in seconds] == [0, 1, 2]  # one from each third of its life
    assert 50.0 in seconds
    assert len(made) < 1000  # crops are only built for candidates that are kept


def test_crop_chooser_builds_only_each_bins_winner_once_the_bin_closes() -> None:
    """Ten detections a bin: only the best of each bin is built, when the track reaches the next bin."""
    chooser, made = CropChooser(k=3, capacity=32, bin_s=1.0), []
    for i in range(30):  # 3 bins of 10 offers each, quality rising then falling within a bin
        t, q = i * 0.1, 0.2 + 0.05 * (5 - abs(5 - i % 10))
        chooser.offer(t, q, lambda t=t, q=q: made.append(round(t, 1)) or _crop(t, q))
        assert len(made) == i // 10  # the bin being filled is never built
    assert made == [0.5, 1.5]  # the winners of the two closed bins
    assert len(chooser.choose()) == 3 and made == [0.5, 1.5, 2.5]  # the last bin is built at the end


def test_crop_chooser_ignores_poor_candidates_and_checks_its_arguments() -> None:
    chooser = CropChooser(k=2, min_quality=0.2)
    chooser.offer(0.0, 0.1, lambda: pytest.fail("a candidate below min_quality must not be built"))
    assert chooser.choose() == []
    with pytest.raises(ValueError, match="crops per track"):
        CropChooser(k=0)


def test_fps_gate_thins_to_the_target_rate() -> None:
    gate = FpsGate(10)
    kept = [t for t in np.arange(0, 10, 1 / 30) if gate.keep(float(t))]
    assert len(kept) == pytest.approx(100, abs=1)
    assert np.diff(kept).min() > 0.09


def test_a_file_is_read_at_the_target_fps_on_the_wall_clock(tmp_path: Path) -> None:
    frames = render(WALKERS, 60, (120, 320))
    video = write_video(tmp_path / "v.mp4", frames, fps=20, start=START)
    got = list(read(str(video), SourceOptions(fps=10)))
    assert len(got) == 30
    assert got[0].time == START and got[0].pts_s == 0.0
    assert got[4].time - START == timedelta(seconds=got[4].pts_s)
    assert got[1].index == 2  # every other decoded frame
    later = START + timedelta(hours=1)
    assert next(read(str(video), SourceOptions(fps=10, start_time=later))).time == later
    assert (
        kind_of(video.as_uri()) is SourceKind.FILE and kind_of("rtsp://cam.example/1") is SourceKind.NETWORK
    )


def test_folder_of_frames(tmp_path: Path) -> None:
    from PIL import Image

    for k, pixels in enumerate(render(WALKERS, 5, (60, 80))):
        Image.fromarray(pixels).save(tmp_path / f"{k:04d}.png")
    got = list(read(str(tmp_path), SourceOptions(fps=5, start_time=START)))
    assert [f.index for f in got] == [0, 1, 2, 3, 4]
    assert got[3].time == START + timedelta(seconds=0.6)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "notes.mp4").write_text("not a video") and d / "notes.mp4", "cannot open"),
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: d, "no frames"),
    ],
)
def test_bad_sources_fail_with_a_clear_error(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        list(read(str(make(tmp_path))))


def test_a_truncated_video_is_a_clear_error(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", render(WALKERS, 30, (120, 320)), fps=10)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    with pytest.raises(SourceError, match="cut.mp4"):
        list(read(str(cut)))


def test_unsupported_schemes_are_refused() -> None:
    with pytest.raises(SourceError, match="unsupported scheme 'ftp'"):
        kind_of("ftp://cam.example/stream")


def test_pipeline_tracks_each_walker_once_and_hands_on_a_few_crops(tmp_path: Path) -> None:
    frames = 70
    video = write_video(tmp_path / "scene.mp4", render(WALKERS, frames, (120, 320)), fps=10, start=START)
    tracks: list[Track] = []
    detector = ColourDetector()
    runner = CameraRunner(
        "gate", str(video), detector, tracks.append, SourceOptions(fps=10), TrackingOptions(fps=10),
        RunOptions(batch=4),
    )  # fmt: skip
    runner.run(threading.Event())
    assert len(tracks) == len(WALKERS)  # one track per person, none split, none invented
    assert all(1 <= len(t.crops) <= 3 for t in tracks)
    assert runner.stats.frames_out == frames and detector.calls <= frames
    assert runner.stats.tracks == 3 and runner.stats.open_tracks == 0
    for track in tracks:
        assert track.first_seen >= START and track.last_seen > track.first_seen
        for crop in track.crops:
            x1, y1, x2, y2 = crop.box
            assert crop.pixels.shape[:2] == (round(y2) - int(y1), round(x2) - int(x1))
            assert crop.frame_jpeg.startswith(b"\xff\xd8")
            assert crop.time == START + timedelta(seconds=crop.frame_index / 10)
    # The red walker enters cut by the frame edge: its chosen crops are whole ones.
    red = next(t for t in tracks if t.crops[0].pixels.reshape(-1, 3).mean(axis=0).argmax() == 0)
    assert min(c.box[0] for c in red.crops) > 2
