"""Start-up states: 503 until warm-up is done, 409 with how to re-index for another model's gallery."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from service_live import LiveServer, assert_error_shape, crop_bytes, live_settings

from engine import load_encoder
from engine.bundle import save_bundle
from engine.model import build_model
from engine.spec import ModelSpec
from index import Gallery, ItemMeta, reindex
from service.towers import Towers


def test_warm_up_gates_readiness(micro_bundle: Path, tmp_path: Path) -> None:
    """A real server whose warm-up the test holds: 503 with Retry-After until it is let go, then 200."""
    entered, release = threading.Event(), threading.Event()

    def held_warm_up(towers: Towers) -> None:
        entered.set()
        assert release.wait(60), "the test never released warm-up"
        Towers.warm_up(towers)

    live = LiveServer(live_settings(micro_bundle, tmp_path), wait_ready=False)
    live.app.state.runtime.warm_up = held_warm_up
    with live, live.client() as client:
        try:
            assert entered.wait(60), "start-up never reached warm-up"
            health = client.get("/health")
            assert health.status_code == 503 and not health.json()["warmup_done"]
            assert health.json()["status"] == "starting" and not health.json()["ready"]
            for response in (
                client.post("/search", json={"text": "red"}),
                client.get("/search", params={"q": "red"}),
                client.post("/gallery", files=[("files", ("a.png", crop_bytes(1)))]),
            ):
                error = assert_error_shape(response, 503)
                assert error["code"] == "not_ready" and response.headers["retry-after"] == "1"
        finally:
            release.set()
        deadline = time.monotonic() + 60
        while client.get("/health").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        health = client.get("/health").json()
        assert health["ready"] and health["warmup_done"] and health["startup_s"] > 0
        assert client.post("/search", json={"text": "red"}).status_code == 200


def test_a_missing_bundle_is_reported_by_health(tmp_path: Path) -> None:
    settings = live_settings(tmp_path / "no-bundle", tmp_path / "data")
    with LiveServer(settings, wait_ready=False) as live, live.client() as client:
        for _ in range(100):
            health = client.get("/health").json()
            if health["status"] != "starting":
                break
            time.sleep(0.05)
        assert health["status"] == "error" and "model.json" in health["error"]
        assert_error_shape(client.post("/search", json={"text": "red"}), 503)


def test_a_gallery_of_another_model_answers_409(
    micro_bundle: Path, micro_spec: ModelSpec, tmp_path: Path
) -> None:
    torch.manual_seed(1)
    other = save_bundle(build_model(micro_spec), micro_spec, tmp_path / "other")
    data = tmp_path / "data"
    vector = np.ones((1, other.embed_dim), np.float32) / np.sqrt(other.embed_dim)
    with Gallery.open(data, other.model_id, other.embed_dim, use_gpu=False) as gallery:
        gallery.add([crop_bytes(1)], vector, [ItemMeta()])
    with LiveServer(live_settings(micro_bundle, data), wait_ready=False) as live, live.client() as client:
        for _ in range(200):
            health = client.get("/health").json()
            if health["warmup_done"]:
                break
            time.sleep(0.05)
        assert health["status"] == "error" and other.model_id in health["error"]
        error = assert_error_shape(client.post("/search", json={"text": "red"}), 409)
        assert "reindex" in error["message"] and error["code"] == "model_mismatch"
        assert_error_shape(client.get("/gallery"), 409)


def test_a_reindex_by_another_process_answers_409_not_500(
    micro_bundle: Path, micro_spec: ModelSpec, tmp_path: Path
) -> None:
    """The gallery switches model under a running server: uploads and searches get 409 saying how to fix
    it, /health stops reporting ready, and nothing is written with the old model."""
    torch.manual_seed(2)
    other_bundle = tmp_path / "other"
    other = save_bundle(build_model(micro_spec), micro_spec, other_bundle)
    data = tmp_path / "data"
    with LiveServer(live_settings(micro_bundle, data)) as live, live.client() as client:
        assert client.post("/gallery", files=[("files", ("a.png", crop_bytes(1)))]).json()["added"] == 1
        encoder = load_encoder(other_bundle, "torch", device="cpu")

        def encode(blobs: Sequence[bytes]) -> np.ndarray:
            return encoder.encode_images([Image.open(io.BytesIO(b)) for b in blobs])

        assert reindex(data, other.model_id, other.embed_dim, encode) == 1  # as another process would

        error = assert_error_shape(client.post("/gallery", files=[("files", ("b.png", crop_bytes(2)))]), 409)
        assert error["code"] == "model_mismatch" and other.model_id in error["message"]
        assert "person-search reindex" in error["message"] and "restart the service" in error["message"]
        search = assert_error_shape(client.post("/search", json={"text": "red"}), 409)
        assert search["message"] == error["message"]
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["error"] == error["message"]
    with Gallery.open(data, other.model_id, other.embed_dim, use_gpu=False) as gallery:
        assert len(gallery) == 1  # the refused upload left nothing behind
