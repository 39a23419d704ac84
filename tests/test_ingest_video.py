"""`person-search ingest-video`: videos through the camera pipeline into the gallery, once, or not at all."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import onnx
import pytest
from camera_helpers import Walker, render, write_video
from detector_helpers import candidates_from, constant_graph
from PIL import Image
from typer.testing import CliRunner

from cameras.sources import SourceError, SourceOptions, expected_frames, read
from cli import app
from cli.settings_flags import settings_from_flags
from cli.video_ingest import VideoOptions, embed_in_batches
from engine.detector import DETECTOR_JSON, DETECTOR_ONNX
from engine.detector.spec import file_model_id
from engine.detector.write import graph_record, save_detector
from engine.spec import ModelSpec
from index import Gallery

runner = CliRunner()
START = datetime(2026, 4, 1, 18, 0, tzinfo=UTC)
SIZE = (128, 320)  # the detector's input (H, W); the videos are 120x320
WALKERS_HALL = [  # what the videos show (the detector below ignores it: the crops differ frame to frame)
    Walker((230, 40, 40), (10, 40), (5, 0.2), (30, 76), 0, 60),
    Walker((40, 200, 60), (280, 30), (-5, 0.2), (26, 70), 10, 60),
]
# two people standing still, in input pixels (cx, cy, w, h, person score): a track each per video
STILL = candidates_from([(60, 64, 30, 76, [0.9]), (250, 60, 26, 70, [0.8])])


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ONNX detector directory that sees the same two people in every frame."""
    directory = tmp_path_factory.mktemp("det")
    save_detector(
        constant_graph(STILL, SIZE), directory, input_size=SIZE, class_names=["person"], person_class=0
    )
    return directory


def _mkv(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """The frames as H.264 in Matroska, whose header declares the duration (so a cut file is noticed)."""
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for pixels in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return path


def _cut(video: Path, out: Path, share: float = 0.5) -> Path:
    out.write_bytes(video.read_bytes()[: int(video.stat().st_size * share)])
    return out


def _ingest(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, ["ingest-video", *(str(a) for a in args)])
    return result.exit_code, result.output


def test_a_cut_file_is_refused_as_truncated_once_read(tmp_path: Path) -> None:
    whole = _mkv(tmp_path / "whole.mkv", render(WALKERS_HALL, 60, (120, 320)))
    assert len(list(read(str(whole), SourceOptions(fps=10)))) == 60  # a complete file reads without error
    assert expected_frames(str(whole), 10) == 60 and expected_frames(str(whole), 5) == 30
    cut = _cut(whole, tmp_path / "cut.mkv")
    with pytest.raises(SourceError, match=r"cut\.mkv: truncated: its frames end at [0-9.]+ s of the 6\.0 s"):
        list(read(str(cut), SourceOptions(fps=10)))


def test_videos_are_stored_once_and_bad_ones_not_at_all(
    tmp_path: Path, detector: Path, micro_bundle: Path
) -> None:
    frames = render(WALKERS_HALL, 40, (120, 320))
    good = write_video(tmp_path / "hall.mp4", frames, fps=10, start=START)
    cut = _cut(_mkv(tmp_path / "long.mkv", render(WALKERS_HALL, 60, (120, 320))), tmp_path / "cut.mkv")
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n")
    data = tmp_path / "gallery"
    flags = ["--model", micro_bundle, "--data", data, "--detector", detector, "--crops-per-track", "2"]

    code, out = _ingest(notes, good, cut, *flags, "--camera", "hall")
    assert code == 2, out
    assert "error: " in out and "notes.mp4: cannot open" in out and "nothing of it stored" in out
    assert "cut.mkv: truncated" in out and "2 of 3 videos stored nothing" in out
    assert "hall.mp4 (camera hall): 40 frames, 2 tracks, 4 crops: added 4, duplicate 0" in out
    spec = ModelSpec.load(micro_bundle)
    with Gallery.open(data, spec.model_id, spec.embed_dim) as gallery:
        items = gallery.list(0, 100)
        assert len(items) == 4  # nothing of the cut file, though its first half held the same two people
        assert {i.meta.camera for i in items} == {"hall"}
        assert len({i.meta.track.id for i in items if i.meta.track}) == 2
        assert all(i.meta.track and str(good.resolve()) in i.meta.track.key for i in items)
        assert all(START <= i.meta.captured_at <= START.replace(second=4) for i in items)  # type: ignore[operator]
        assert all(gallery.frame_file(i.id) is not None for i in items)

    code, out = _ingest(good, *flags, "--camera", "hall")  # the same file again adds nothing
    assert code == 0 and "added 0, duplicate 4" in out and "gallery" in out and ": 4 items" in out

    other = write_video(tmp_path / "door.mp4", frames[::-1], fps=10, start=START)
    code, out = _ingest(other, *flags, "--start-time", "2030-01-02T03:04:05+01:00", "--fps", "5")
    assert code == 0 and "door.mp4 (camera door): 20 frames" in out and "added 4" in out  # its name
    with Gallery.open(data, spec.model_id, spec.embed_dim) as gallery:
        later = gallery.list(0, 100, camera="door")
    given = datetime(2030, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert later and all(given <= i.meta.captured_at <= given.replace(second=9) for i in later)  # type: ignore[operator]


def test_a_start_time_without_offset_is_a_usage_error(
    tmp_path: Path, detector: Path, micro_bundle: Path
) -> None:
    code, out = _ingest(tmp_path / "x.mp4", "--model", micro_bundle, "--data", tmp_path / "g",
                        "--detector", detector, "--start-time", "2026-01-05T08:00:00")  # fmt: skip
    assert code == 2 and "no UTC offset" in out


def test_a_detector_of_the_wrong_layout_stops_before_any_video(tmp_path: Path, micro_bundle: Path) -> None:
    bad = tmp_path / "bad-det"
    bad.mkdir()
    model = constant_graph(STILL.T.copy(), SIZE)  # [B, N, 5]: transposed
    onnx.save(model, str(bad / DETECTOR_ONNX))
    spec = {
        "input_size": list(SIZE), "class_names": ["person"], "person_class": 0,
        "letterbox": {"pad_value": 114, "center": True}, "score_threshold": 0.25, "nms_iou": 0.45,
        "max_detections": 100, "model_id": file_model_id(bad / DETECTOR_ONNX),
        "graph": graph_record(model, "test").model_dump(),
    }  # fmt: skip
    (bad / DETECTOR_JSON).write_text(json.dumps(spec))
    video = write_video(tmp_path / "hall.mp4", render(WALKERS_HALL, 20, (120, 320)), fps=10)
    data = tmp_path / "gallery"
    code, out = _ingest(video, "--model", micro_bundle, "--data", data, "--detector", bad)
    assert code == 2
    assert f"error: detector {bad}" in out and "looks transposed" in out
    assert not data.exists()  # refused before the gallery was opened


def test_crops_are_embedded_in_batches_in_order() -> None:
    calls: list[int] = []

    def encode(images: list[Image.Image]) -> np.ndarray:
        calls.append(len(images))
        return np.array([[float(im.width)] for im in images], np.float32)

    images = [Image.new("RGB", (w, 8)) for w in (1, 2, 3, 4, 5)]
    vectors = embed_in_batches(encode, 2)(images)
    assert calls == [2, 2, 1] and vectors[:, 0].tolist() == [1, 2, 3, 4, 5]


def test_camera_flags_override_the_environment_and_keep_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSON_SEARCH_CAMERAS__FPS", "4")
    monkeypatch.setenv("PERSON_SEARCH_CAMERAS__LOST_S", "5")
    given = {"detector": Path("det"), "crops_per_track": 2, "fps": None, "detector_threads": 3}
    cameras = settings_from_flags(given).cameras
    assert (cameras.detector, cameras.crops_per_track, cameras.detector_threads) == (Path("det"), 2, 3)
    assert cameras.fps == 4 and cameras.lost_s == 5  # no flag: the environment's
    assert settings_from_flags({**given, "fps": 6.0}).cameras.fps == 6
    options = VideoOptions.of(settings_from_flags(given).cameras, START)
    assert options.source == SourceOptions(fps=4, start_time=START)
    assert (options.tracking.fps, options.tracking.lost_s, options.tracking.crops_per_track) == (4, 5, 2)
