"""Camera tracks into the gallery: crops with track, box, quality and evidence frame; re-reads add nothing."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from camera_helpers import ColourDetector, Walker, render, write_video
from PIL import Image
from service_live import LiveServer, live_settings

from cameras.pipeline import CameraRunner
from cameras.sources import SourceOptions
from cameras.tracking import TrackingOptions
from engine import load_encoder
from index import Gallery, ItemMeta, TrackRef
from service.track_writer import TrackWriter

START = datetime(2026, 4, 1, 18, 0, tzinfo=UTC)
WALKERS = [
    Walker((230, 40, 40), (10, 40), (5, 0.2), (30, 76), 0, 40),
    Walker((40, 200, 60), (280, 30), (-5, 0.2), (26, 70), 20, 55),
]


def _ingest(video: Path, gallery: Gallery, encoder) -> TrackWriter:  # type: ignore[no-untyped-def]
    writer = TrackWriter(gallery, encoder.encode_images, video.name)
    runner = CameraRunner(
        "hall",
        str(video),
        ColourDetector(),
        writer,
        SourceOptions(fps=10),
        TrackingOptions(fps=10, frame_jpeg_width=160),
    )
    runner.run(threading.Event())
    return writer


@pytest.mark.slow
def test_tracks_land_in_the_gallery_once_with_their_evidence(tmp_path: Path, micro_bundle: Path) -> None:
    video = write_video(tmp_path / "hall.mp4", render(WALKERS, 60, (120, 320)), fps=10, start=START)
    encoder = load_encoder(micro_bundle, backend="torch")
    data = tmp_path / "gallery"
    with Gallery.open(data, encoder.model_id, encoder.embed_dim) as gallery:
        writer = _ingest(video, gallery, encoder)
        items = gallery.list(0, 100)
        assert writer.added == len(items) and 2 <= len(items) <= 6
        tracks = {item.meta.track.id for item in items if item.meta.track}
        assert len(tracks) == 2 and len(items) == sum(1 for i in items if i.meta.track)
        for item in items:
            assert item.meta.camera == "hall" and item.meta.captured_at is not None
            span = item.meta.track
            assert span is not None and span.first_seen <= item.meta.captured_at <= span.last_seen
            assert item.meta.box is not None and 0 < item.meta.quality <= 1  # type: ignore[operator]
            x1, y1, x2, y2 = item.meta.box
            assert 0 <= x1 < x2 <= 160 and 0 <= y1 < y2 <= 60  # in the downscaled evidence frame
            assert gallery.frame_file(item.id) is not None
        again = _ingest(video, gallery, encoder)
        assert again.added == 0 and len(gallery) == len(items)  # the same video adds nothing twice
        first = items[0]
    settings = live_settings(micro_bundle, data)
    with LiveServer(settings) as server, server.client() as http:
        body = http.get(f"/gallery/{first.id}").json()
        assert body["track"]["id"] == first.meta.track.id  # type: ignore[union-attr]
        assert body["frame_url"] == f"/gallery/{first.id}/frame" and len(body["box"]) == 4
        framed = http.get(body["frame_url"])
        assert framed.status_code == 200 and framed.headers["content-type"] == "image/jpeg"
        plain = Image.open(io.BytesIO(http.get(body["frame_url"], params={"box": "false"}).content))
        boxed = np.asarray(Image.open(io.BytesIO(framed.content)).convert("RGB"), np.int16)
        x1, y1, _, _ = (round(v) for v in body["box"])
        assert boxed[y1, x1, 0] > 200 and boxed[y1, x1, 1] < 90  # the box is drawn in red at its corner
        assert plain.size == (160, 60)
        upload = http.post("/gallery", files={"files": ("c.png", _png(), "image/png")}).json()
        missing = http.get(f"/gallery/{upload['items'][0]['id']}/frame")
        assert missing.status_code == 404 and "no evidence frame" in missing.json()["error"]["message"]


def _png() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 24, 3), np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_track_ids_never_repeat_and_a_frame_shared_by_two_crops_outlives_one(tmp_path: Path) -> None:
    dim = 4
    vectors = np.eye(dim, dtype=np.float32)
    frame = _png()
    ref = TrackRef("cam|a|t0|1", START, START)
    metas = [
        ItemMeta(camera="c", track=ref, box=(1, 1, 5, 9)),
        ItemMeta(camera="c", track=TrackRef("cam|a|t0|2", START, START)),
    ]
    crops = [_png_seed(s) for s in (10, 11)]
    with Gallery.open(tmp_path, "m", dim) as gallery:
        a, b = gallery.add(crops, vectors[:2], metas, [frame, frame])
        first_ids = {gallery.get(a.id).meta.track.id, gallery.get(b.id).meta.track.id}  # type: ignore[union-attr]
        assert len(first_ids) == 2
        assert gallery.frame_file(a.id) == gallery.frame_file(b.id)  # one file, content-addressed
        gallery.delete(a.id)
        assert gallery.frame_file(b.id) is not None and gallery.frame_file(b.id).is_file()  # type: ignore[union-attr]
        gallery.delete(b.id)
        assert not list((tmp_path / "images").rglob("*.png"))
    with Gallery.open(tmp_path, "m", dim) as gallery:  # a restart: new tracks get new ids
        (c,) = gallery.add(
            [_png_seed(12)], vectors[2:3], [ItemMeta(track=TrackRef("cam|a|t1|1", START, START))]
        )
        assert gallery.get(c.id).meta.track.id not in first_ids  # type: ignore[union-attr]
        with pytest.raises(ValueError, match="box"):
            gallery.add([_png_seed(13)], vectors[3:4], [ItemMeta(box=(5, 5, 1, 1))])


def _png_seed(seed: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (32, 16, 3), np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_grouped_search_reads_further_when_one_track_fills_the_first_batch(tmp_path: Path) -> None:
    """k=2 tracks, but the first track's 60 crops all outscore the second's: the search reads on until
    it has found both, and each track is one result with its best crop."""
    from service.examples import GROUP_FIRST_FETCH, grouped_search

    dim, rng = 8, np.random.default_rng(0)
    near = np.eye(dim, dtype=np.float32)[0] + rng.normal(0, 0.01, (60, dim)).astype(np.float32)
    far = np.eye(dim, dtype=np.float32)[1] + rng.normal(0, 0.01, (5, dim)).astype(np.float32)
    vectors = np.concatenate([near, far])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    metas = [
        ItemMeta(track=TrackRef("cam|a|t|1" if i < 60 else "cam|a|t|2", START, START)) for i in range(65)
    ]
    assert 2 * GROUP_FIRST_FETCH < 60  # the first batch holds crops of the first track only
    with Gallery.open(tmp_path, "m", dim) as gallery:
        gallery.add([_png_seed(100 + i) for i in range(65)], vectors, metas)
        query = np.eye(dim, dtype=np.float32)[0]
        hits = grouped_search(gallery, query, 2, None, None)
        assert [h.rank for h in hits] == [1, 2]
        assert [h.item.meta.track.key for h in hits if h.item.meta.track] == ["cam|a|t|1", "cam|a|t|2"]
        best = gallery.search(query, 1)[0]
        assert hits[0].item.id == best.item.id and hits[0].score == best.score
