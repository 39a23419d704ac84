"""The demo detector: AP50 by hand, target assignment, augmentation geometry, and training end to end
on tiny scenes written by the test in the synth-scenes layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from detector_helpers import write_scenes
from typer.testing import CliRunner

from cli.app import app
from engine.detector import DetectorSpec, load_detector
from engine.detector.decode import Detections
from training.detector.ap import average_precision
from training.detector.augment import augment
from training.detector.loss import assign
from training.detector.scenes import cameras, read_gt
from training.detector.train import DetectorTrainConfig, train_detector

GT = np.array([[0, 0, 10, 20], [50, 50, 60, 70]], np.float32)


def _dets(*rows: tuple[float, float, float, float, float]) -> Detections:
    array = np.array(rows, np.float32).reshape(-1, 5)
    return Detections(array[:, :4], array[:, 4])


def test_ap50_counts_true_false_and_duplicate_detections() -> None:
    counted = [np.zeros(2, bool)]
    perfect = _dets((0, 0, 10, 20, 0.9), (50, 50, 60, 70, 0.8))
    assert average_precision([perfect], [GT], counted) == pytest.approx(1.0)
    # ranked: TP, FP (a duplicate of the first), TP -> precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    duplicate = _dets((0, 0, 10, 20, 0.9), (1, 0, 10, 20, 0.8), (50, 50, 60, 70, 0.7))
    assert average_precision([duplicate], [GT], counted) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # a false positive ranked first: precision 0, 1/2, 2/3 -> AP = 0.5 * 2/3 + 0.5 * 2/3
    early_fp = _dets((100, 100, 110, 120, 0.95), (0, 0, 10, 20, 0.9), (50, 50, 60, 70, 0.7))
    assert average_precision([early_fp], [GT], counted) == pytest.approx(2 / 3)
    missed = _dets((0, 0, 10, 20, 0.9))  # half the persons found, no false positive
    assert average_precision([missed], [GT], counted) == pytest.approx(0.5)
    loose = _dets((0, 0, 10, 9, 0.9))  # IoU 0.45 < 0.5: a false positive
    assert average_precision([loose], [GT], counted) == 0.0


def test_ap50_sets_aside_detections_of_ignored_persons_and_spans_frames() -> None:
    ignore = [np.array([False, True])]
    hit_ignored = _dets((0, 0, 10, 20, 0.6), (50, 50, 60, 70, 0.9))  # the ignored one scores highest
    assert average_precision([hit_ignored], [GT], ignore) == pytest.approx(1.0)
    frames = [_dets((0, 0, 10, 20, 0.9)), _dets(), _dets((5, 5, 8, 8, 0.95))]
    gts = [GT[:1], GT[1:], np.zeros((0, 4), np.float32)]
    # ranked: FP (frame 3), TP (frame 1); frame 2's person is missed -> precision 1/2 up to recall 1/2
    assert average_precision(frames, gts, [np.zeros(len(g), bool) for g in gts]) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="no counted persons"):
        average_precision([perfect := _dets()], [GT], [np.ones(2, bool)])
    assert not len(perfect)


def test_assignment_claims_cells_near_the_centre_and_leaves_ignored_persons_out() -> None:
    gt = torch.tensor([[16.0, 8.0, 48.0, 72.0], [0.0, 0.0, 4.0, 4.0], [80.0, 0.0, 128.0, 64.0]])
    owner, ignored = assign(gt, torch.tensor([False, False, True]), (10, 16))
    owner, ignored = owner.reshape(10, 16), ignored.reshape(10, 16)
    rows, cols = np.nonzero((owner == 0).numpy())
    assert (cols.min(), cols.max(), rows.min(), rows.max()) == (2, 5, 3, 6)  # inside, within 2.5 cells
    assert owner[0, 0] == 1  # a box too small to hold a cell centre still owns the cell of its centre
    assert (owner == 2).sum() == 0 and ignored[:8, 10:16].all() and ignored.sum() == 48
    none, no_ignored = assign(torch.zeros((0, 4)), torch.zeros(0, dtype=torch.bool), (2, 3))
    assert none.tolist() == [-1] * 6 and not no_ignored.any()


def test_augmentation_moves_boxes_with_the_pixels() -> None:
    images = torch.full((6, 3, 96, 160), 114, dtype=torch.uint8)
    images[:, :, 30:70, 40:60] = 255  # a white person, box (40, 30, 60, 70)
    boxes = [torch.tensor([[40.0, 30.0, 60.0, 70.0]])] * 6
    x, moved, ignore = augment(
        images, boxes, [torch.tensor([False])] * 6, 114 / 255, torch.Generator().manual_seed(1)
    )
    for image, box in zip(x, moved, strict=True):
        if len(box) == 0:
            continue
        bright = torch.nonzero(image.min(dim=0).values > image.max() * 0.9)  # white stays the brightest
        (y1, x1), (y2, x2) = bright.min(0).values.tolist(), (bright.max(0).values + 1).tolist()
        np.testing.assert_allclose([x1, y1, x2, y2], box[0].tolist(), atol=2.0)
    assert any(len(b) for b in moved) and len(ignore) == 6


def test_gt_must_be_motchallenge(tmp_path: Path) -> None:
    (tmp_path / "gt.txt").write_text("1,2,3,4\n")
    with pytest.raises(ValueError, match="has 4 columns; MOTChallenge gt has 9"):
        read_gt(tmp_path / "gt.txt")
    (tmp_path / "gt.txt").write_text("1,1,10,20,5,8,1,1,0.5\n3,2,0,0,4,4,1,1,1\n")
    boxes, visibility = read_gt(tmp_path / "gt.txt")[1]
    assert boxes.tolist() == [[9, 19, 14, 27]] and visibility.tolist() == [0.5]  # 1-based in the file


@pytest.fixture(scope="module")
def tiny_scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenes(tmp_path_factory.mktemp("scenes") / "s", cameras=2, frames=12, size=(90, 160))


def test_train_detector_for_one_epoch_writes_a_detector_that_loads(tiny_scenes: Path, tmp_path: Path) -> None:
    out = tmp_path / "det"
    args = ["train-detector", str(tiny_scenes), "--out", str(out), "--epochs", "1", "--input-size", "96x160",
            "--frame-step", "2", "--threads", "1"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "held out: 3 frames of ['cam-1']" in result.output and "AP50" in result.output
    spec = DetectorSpec.load(out)
    assert (spec.input_size, spec.class_names, spec.channels, spec.graph.input) == (
        (96, 160),
        ["person"],
        5,
        "images",
    )
    metrics = spec.provenance["metrics"]
    assert 0.0 <= metrics["ap50_held_out"] <= 1.0 and spec.provenance["train_cameras"] == ["cam-0"]
    detector = load_detector(out, "onnxruntime", threads=1)
    frames = [np.zeros((90, 160, 3), np.uint8), np.zeros((45, 300, 3), np.uint8)]
    for frame, found in zip(frames, detector.detect(frames), strict=True):
        h, w = frame.shape[:2]
        assert ((found.boxes >= 0) & (found.boxes <= [w, h, w, h])).all()


def test_one_camera_needs_held_out_scenes(tmp_path: Path) -> None:
    scenes = write_scenes(tmp_path / "one", cameras=1, frames=2, size=(90, 160))
    result = CliRunner().invoke(app, ["train-detector", str(scenes), "--out", str(tmp_path / "d")])
    assert (
        result.exit_code == 2
        and "has one camera: hold out scenes of another seed with --holdout" in result.output
    )
    assert not (tmp_path / "d").exists()
    (scenes / "scenes.json").write_text(
        json.dumps({"cameras": [{"name": "x", "video": "x.mp4", "sequence": "x"}]})
    )
    with pytest.raises(FileNotFoundError, match=r"x\.mp4 \(camera x in .*scenes\.json\) not found"):
        cameras(scenes)


@pytest.mark.parametrize(("size", "message"), [("100x160", "multiples of 16"), ("big", "is not HxW")])
def test_a_bad_input_size_is_refused_before_any_work(tmp_path: Path, size: str, message: str) -> None:
    args = ["train-detector", str(tmp_path), "--out", str(tmp_path / "d"), "--input-size", size]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and message in result.output and not (tmp_path / "d").exists()


@pytest.mark.slow
def test_the_demo_detector_finds_persons_in_held_out_scenes(tmp_path: Path) -> None:
    """About 40 s on 2 cores; measured AP50 0.886 (another seed's scenes, 0.933)."""
    train = write_scenes(tmp_path / "train", cameras=8, frames=60, size=(180, 320), walkers=4, seed=0)
    held = write_scenes(tmp_path / "held", cameras=3, frames=40, size=(180, 320), walkers=4, seed=1)
    config = DetectorTrainConfig(input_size=(192, 320), epochs=14, frame_step=2, holdout_step=4)
    result = train_detector(train, tmp_path / "det", config, holdout=held, echo=lambda _: None)
    assert result.ap50 >= 0.8, f"held-out AP50 {result.ap50:.3f}"
    assert DetectorSpec.load(tmp_path / "det").provenance["metrics"]["ap50_held_out"] == round(result.ap50, 4)
