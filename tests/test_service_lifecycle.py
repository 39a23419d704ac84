"""Start-up states: 503 until warm-up is done, 409 with how to re-index for another model's gallery."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from service_live import LiveServer, assert_error_shape, crop_bytes, live_settings

from engine.bundle import save_bundle
from engine.model import build_model
from engine.spec import ModelSpec
from index import Gallery, ItemMeta
from service.app import create_app


def test_not_ready_answers_503_with_retry_after(micro_bundle: Path, tmp_path: Path) -> None:
    app = create_app(live_settings(micro_bundle, tmp_path))  # lifespan not run: start-up never began

    async def main() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/health"), await client.post("/search", json={"text": "red"})

    health, search = asyncio.run(main())
    assert health.status_code == 503 and health.json()["status"] == "starting" and not health.json()["ready"]
    assert assert_error_shape(search, 503)["code"] == "not_ready" and search.headers["retry-after"] == "1"


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
