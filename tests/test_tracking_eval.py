"""Tracking scored on synthetic ground truth: the real CameraRunner (PyAV, ByteTrack, crop choice) on
rendered synth-scenes videos, with a ground-truth detector double; IDF1 and MOTA with motmetrics, and
identity coverage of the stored crops. Each threshold sits a few points below what was measured (see
the numbers beside it) and a deliberately broken configuration is shown to fail it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from track_eval_helpers import (
    REALISTIC,
    GroundTruthDetector,
    Persons,
    Recorder,
    Run,
    coverage,
    iou,
    mot_metrics,
    read_truth,
    run_camera,
)

from cameras.tracking import CameraTracker, TrackingOptions
from cameras.types import Boxes, Crop, Frame, Track
from training.synth.scenes import synth_scenes

CAMERAS, SECONDS, FPS, SEED = 4, 20, 10, 3  # every background: street, corridor, lobby, night
FRAMES = SECONDS * FPS
IDF1_MIN, MOTA_MIN = 0.92, 0.88  # measured per camera: IDF1 0.955-0.960, MOTA 0.913-0.930
COVERAGE_MIN = 0.95  # measured 36 of 36 persons


@pytest.fixture(scope="session")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 cameras x 20 s at 10 fps, 640x360 (about 4 s of CPU)."""
    return synth_scenes(tmp_path_factory.mktemp("scenes"), CAMERAS, SECONDS, FPS, SEED).parent


def _truth(scenes: Path, cam: int) -> dict[int, Persons]:
    return read_truth(scenes / f"cam-{cam}" / "gt" / "gt.txt")


def _run(scenes: Path, cam: int, tracking: TrackingOptions = TrackingOptions()) -> Run:
    detector = GroundTruthDetector(_truth(scenes, cam), seed=cam, **REALISTIC)
    run = run_camera(scenes / f"cam-{cam}.mp4", detector, tracking)
    assert run.frames_out == detector.frames == FRAMES  # every frame detected, in order: the gt lines up
    return run


@pytest.fixture(scope="module")
def runs(scenes: Path) -> dict[int, Run]:
    return {cam: _run(scenes, cam) for cam in range(CAMERAS)}


@pytest.mark.parametrize("cam", range(CAMERAS))
def test_idf1_and_mota_per_camera(scenes: Path, runs: dict[int, Run], cam: int) -> None:
    scores = mot_metrics(_truth(scenes, cam), runs[cam].recorder, FRAMES)
    assert scores["idf1"] >= IDF1_MIN and scores["mota"] >= MOTA_MIN, scores
    assert scores["num_objects"] > 500  # ~9 persons each about 70 frames: the scene is not empty


def test_the_observer_reports_the_stored_tracks(runs: dict[int, Run]) -> None:
    """Its ids are the stored tracks' local ids (unique in a run), and each crop is its box in that frame."""
    for run in runs.values():
        ids = [t.local_id for t in run.tracks]
        assert len(ids) == len(set(ids))
        for track in run.tracks:
            for crop in track.crops:
                seen_ids, boxes = run.recorder.seen[crop.frame_index + 1]
                assert np.allclose(boxes[list(seen_ids).index(track.local_id)], crop.box)


def test_every_person_visible_for_a_second_has_a_stored_crop(scenes: Path, runs: dict[int, Run]) -> None:
    found = [coverage(_truth(scenes, cam), runs[cam].tracks, frames_needed=FPS) for cam in range(CAMERAS)]
    eligible, covered = sum(len(c.eligible) for c in found), sum(len(c.covered) for c in found)
    assert eligible >= 30 and covered >= COVERAGE_MIN * eligible, [c.missing for c in found]


def test_broken_trackers_fail_these_thresholds(scenes: Path, runs: dict[int, Run]) -> None:
    truth = _truth(scenes, 0)
    rng = np.random.default_rng(0)
    shuffled = mot_metrics(truth, runs[0].recorder, FRAMES, relabel=lambda _k, ids: rng.permutation(ids))
    assert shuffled["idf1"] < 0.7 and shuffled["mota"] < 0.8, shuffled  # identities swapped every frame
    forgetful = _run(scenes, 0, TrackingOptions(lost_s=0.05))  # one missed detection ends a track
    split = mot_metrics(truth, forgetful.recorder, FRAMES)
    assert split["idf1"] < IDF1_MIN - 0.2 and len(forgetful.tracks) > 3 * len(runs[0].tracks), split
    assert len({t.local_id for t in forgetful.tracks}) == len(forgetful.tracks)  # resumed: a new local id
    choosy = _run(scenes, 1, TrackingOptions(min_frames=60))  # only tracks longer than 6 s are stored
    lost = coverage(_truth(scenes, 1), choosy.tracks, frames_needed=FPS)
    assert len(lost.covered) < COVERAGE_MIN * len(lost.eligible), lost


def _frame(k: int) -> Frame:
    pixels = np.random.default_rng(k).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    return Frame(pixels, datetime(2026, 5, 1, tzinfo=UTC) + timedelta(seconds=k / 10), k, k / 10)


@pytest.mark.parametrize(("hidden", "tracks"), [(12, 1), (25, 2)])
def test_a_person_hidden_for_less_than_lost_s_keeps_one_track(hidden: int, tracks: int) -> None:
    """ByteTrack counts its lost buffer in 30 fps frames: lost_s must be given in those units."""
    tracker = CameraTracker("door", TrackingOptions(fps=10, lost_s=2.0))
    done = []
    for k in range(20 + hidden + 20):
        x = 20 + 4 * k  # walking right at 40 px/s; behind a pillar for `hidden` frames
        visible = k < 20 or k >= 20 + hidden
        boxes = np.array([[x, 60, x + 40, 180]], np.float32) if visible else np.zeros((0, 4), np.float32)
        done += tracker.update(_frame(k), Boxes(boxes, np.full(len(boxes), 0.9, np.float32)))
    done += tracker.flush()
    assert len(done) == tracks and len({t.local_id for t in done}) == tracks
    assert sum(t.frames for t in done) == 40 - 1 * tracks  # each track's first sighting is unconfirmed


def test_the_scoring_counts_what_it_says() -> None:
    """On hand-made truth: a miss, a false track, an ignore region, a swap; a crop that covers a person."""
    box = np.array([[0, 0, 10, 20]], np.float32)
    truth = {k: Persons(np.array([7]), box + k, np.array([1.0], np.float32)) for k in range(1, 11)}
    truth[11] = Persons(np.array([7]), box + 11, np.array([0.1], np.float32))  # hidden: an ignore region
    assert iou(box, box + np.array([5, 0, 5, 0]))[0, 0] == pytest.approx(1 / 3)
    seen = {k: (np.array([1]), box + k) for k in range(2, 12)}  # frame 1 missed; 11 on the hidden one
    seen[6] = (np.array([2]), box + 6)  # one frame under another id: two switches
    seen[7] = (np.array([1, 3]), np.concatenate([box + 7, box + 50]))  # a false positive
    scores = mot_metrics(truth, Recorder(seen), 11)
    assert scores["num_objects"] == 10 and scores["num_misses"] == 1 and scores["num_false_positives"] == 1
    assert scores["num_switches"] == 2 and scores["mota"] == pytest.approx(1 - 4 / 10)

    def track(shift: float) -> Track:
        corners = tuple(float(v) for v in (box[0] + 4 + shift))
        crop = Crop(np.zeros((20, 10, 3), np.uint8), corners, datetime.now(UTC), 3, 0.5, b"", 1.0)  # type: ignore[arg-type]
        return Track("c", 1, crop.time, crop.time, 5, [crop])

    assert coverage(truth, [track(0)], frames_needed=10).covered == {7}
    assert coverage(truth, [track(0)], frames_needed=11).eligible == frozenset()  # visible in 10 frames only
    assert coverage(truth, [track(6)], frames_needed=10).missing == [7]  # IoU 0.25 with the person


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about a minute on 2 idle cores; 11 minutes measured at load average 10
def test_coverage_with_the_demo_detector_trained_briefly(scenes: Path, tmp_path: Path) -> None:
    """The demo detector trained on other scenes (6 cameras x 8 s, seed 10), then the same runs with it
    in place of the double. Measured: AP50 0.713 on these scenes (0.852 on seed 4's), coverage 33 of 36
    (the 3 missed entered in the last 2 s and were found late or with loose boxes), IDF1 0.53-0.75
    (mean 0.65): the detector, not the tracker, sets these numbers (its false positives and misses)."""
    from engine.detector import load_detector
    from training.detector.train import DetectorTrainConfig, train_detector

    train = synth_scenes(tmp_path / "train", cameras=6, seconds=8, fps=FPS, seed=10).parent
    config = DetectorTrainConfig(
        input_size=(192, 320), epochs=14, frame_step=2, holdout_step=4, holdout_frames=40
    )
    trained = train_detector(train, tmp_path / "det", config, holdout=scenes, echo=lambda _: None)
    detector = load_detector(tmp_path / "det", "onnxruntime", threads=2)
    found, idf1 = [], []
    for cam in range(CAMERAS):
        truth = _truth(scenes, cam)
        run = run_camera(scenes / f"cam-{cam}.mp4", detector)
        found.append(coverage(truth, run.tracks, frames_needed=FPS))
        idf1.append(mot_metrics(truth, run.recorder, FRAMES)["idf1"])
    eligible, covered = sum(len(c.eligible) for c in found), sum(len(c.covered) for c in found)
    print(f"AP50 {trained.ap50:.3f}; coverage {covered}/{eligible}; IDF1 {[round(v, 3) for v in idf1]}")
    assert covered >= 0.85 * eligible, [c.missing for c in found]
    assert np.mean(idf1) >= 0.55, idf1
