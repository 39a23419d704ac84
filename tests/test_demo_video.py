"""The demo's camera stages on tiny scenes: only finished work is reused; the printed rank is true."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest
from service_live import LiveServer, live_settings

from cli import demo_video as video
from cli.demo_stages import DemoPaths, DemoPlan
from cli.video_ingest import VideoOptions, embed_in_batches, ingest_video
from engine import load_encoder
from engine.detector.decode import Detections
from index import Gallery
from service.settings import CameraSettings

TINY = DemoPlan(scene_cameras=1, scene_seconds=3.0, videos=1, detector_cameras=1, detector_seconds=2.0,
                detector_epochs=1)  # fmt: skip


class GroundTruthDetector:
    """Reads a scene's gt.txt: the k-th frame it is shown gets the persons of frame k (every frame read)."""

    def __init__(self, sequence: Path) -> None:
        self.rows: dict[int, list[list[float]]] = {}
        for line in (sequence / "gt" / "gt.txt").read_text().splitlines():
            frame, _, x, y, w, h = (float(v) for v in line.split(",")[:6])
            self.rows.setdefault(int(frame), []).append([x - 1, y - 1, x - 1 + w, y - 1 + h])
        self.seen = 0

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        out = []
        for _ in frames:
            self.seen += 1
            boxes = np.array(self.rows.get(self.seen, []), np.float32).reshape(-1, 4)
            out.append(Detections(boxes, np.full(len(boxes), 0.9, np.float32)))
        return out


def test_scenes_and_the_detector_are_reused_only_when_finished(tmp_path: Path, micro_bundle: Path) -> None:
    paths, said = DemoPaths(tmp_path), []
    stale = paths.scenes.with_name("scenes.partial")
    stale.mkdir(parents=True)
    (stale / "left-over.txt").write_text("from a run stopped with Ctrl-C")
    video.render_scenes(paths.scenes, 1, 3.0, 0, said.append)
    video.render_scenes(paths.detector_scenes, 1, 2.0, 1, said.append)
    assert (paths.scenes / "scenes.json").is_file() and not (paths.scenes / "left-over.txt").exists()
    assert not stale.exists()
    video.render_scenes(paths.scenes, 1, 3.0, 0, said.append)
    assert said == [f"reusing the scenes in {paths.scenes}"]

    unfinished = paths.detector
    unfinished.mkdir(parents=True)
    (unfinished / "detector.json").write_text(json.dumps({"provenance": {}}))  # exported, not yet scored
    assert video.detector_ap50(unfinished) is None
    ap50 = video.train_detector(paths, TINY, said.append)  # one epoch on a few frames: seconds
    assert 0.0 <= ap50 <= 1.0 and video.detector_ap50(paths.detector) == pytest.approx(ap50, abs=1e-4)
    assert not paths.detector.with_name("detector.partial").exists()
    said.clear()
    assert video.train_detector(paths, TINY, said.append) == video.detector_ap50(paths.detector)
    assert said == [f"reusing the detector in {paths.detector} (held-out AP50 {ap50:.3f})"]

    video.ingest_videos(micro_bundle, paths, TINY, said.append)  # whatever an epoch's detector finds
    listed = json.loads((paths.gallery / video.INGESTED).read_text())
    assert [row["video"] for row in listed] == ["cam-0.mp4"] and listed[0]["frames"] == 30
    said.clear()
    video.ingest_videos(micro_bundle, paths, TINY, said.append)
    assert said == [f"reusing the video crops in {paths.gallery} (listed in {video.INGESTED})"]


def _curl(command: str) -> dict:
    args = shlex.split(command)
    out = subprocess.run([args[0], "--fail-with-body", *args[1:]], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


@pytest.mark.slow
def test_the_printed_query_and_rank_agree_with_the_server(tmp_path: Path, micro_bundle: Path) -> None:
    paths = DemoPaths(tmp_path)
    video.render_scenes(paths.scenes, 1, 3.0, 0, print)
    encoder = load_encoder(micro_bundle)
    clip = paths.scenes / "cam-0.mp4"
    with Gallery.open(paths.gallery, encoder.model_id, encoder.embed_dim) as gallery:
        summary = ingest_video(
            clip, "cam-0", GroundTruthDetector(paths.scenes / "cam-0"), gallery,
            embed_in_batches(encoder.encode_images, 4), VideoOptions.of(CameraSettings()),
        )  # fmt: skip
        items = gallery.list(0, 100)
    assert summary.error is None and summary.tracks >= 3 and summary.added == len(items)
    truth = video.SceneTruth(paths.scenes)
    who = [truth.person(i.meta.camera, i.meta.captured_at, i.meta.box) for i in items]
    assert sum(p is not None for p in who) >= 0.9 * len(items)  # the crops map back to their persons

    query, size = video.video_query(micro_bundle, paths)
    identities = json.loads((paths.scenes / "identities.json").read_text())
    assert query is not None and size == len(items) and query.searched == len(items)
    assert query.caption == identities[query.person]["captions"][0] and query.cameras == ["cam-0"]
    assert who.count(query.person) == max(who.count(p) for p in set(who) - {None})  # most crops
    assert query.rank is not None and 1 <= query.rank <= len(items)

    with LiveServer(live_settings(micro_bundle, paths.gallery)) as server:
        lines = video.query_lines(server.url, query, 0.5)
        assert lines[0] == "person detector: held-out AP50 0.500 on the demo's scene videos"
        search = next(line.strip() for line in lines if "/search?" in line)
        matches = [m["item"]["id"] for m in _curl(search)["matches"]]
        by_id = {i.id: p for i, p in zip(items, who, strict=True)}
        if query.rank <= 5:
            assert "in the top 5" in lines[2] and matches[query.rank - 1] == query.item_id
            assert all(by_id[m] != query.person for m in matches[: query.rank - 1])
        else:
            assert "not in the top 5" in lines[2] and all(by_id[m] != query.person for m in matches)
        frame = next(line.strip().split("  #")[0] for line in lines if "/frame" in line)
        args = shlex.split(frame)
        jpeg = tmp_path / "frame.jpg"
        subprocess.run([*args[:3], str(jpeg), *args[4:]], check=True, timeout=60)
        assert jpeg.read_bytes()[:2] == b"\xff\xd8"
