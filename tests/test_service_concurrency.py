"""Concurrent clients: mixed uploads and searches stay consistent; a full queue refuses with 429."""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from service_live import LiveServer, crop_bytes, live_settings

CLIENTS = 32


def _client_session(url: str, n: int) -> tuple[dict[str, int], list[str]]:
    """Upload two crops (one shared with the neighbouring client), search three times; return sha->id."""
    problems, stored = [], {}
    with httpx.Client(base_url=url, timeout=60) as client:
        for round_ in range(2):
            seeds = [1000 + n * 2 + round_, 5000 + (n + round_) % CLIENTS]  # own crop, shared crop
            files = [("files", (f"c{n}-{s}.png", crop_bytes(s))) for s in seeds]
            response = client.post("/gallery", files=files, data={"camera": f"cam{n % 4}"})
            if response.status_code != 200:
                problems.append(f"upload {response.status_code}: {response.text}")
                continue
            for item in response.json()["items"]:
                stored[item["sha256"]] = item["id"]
            query = {
                "text": f"person number {n} in a coat",
                "top_k": 5,
                "filters": {"cameras": [f"cam{n % 4}"]},
            }
            response = client.post("/search", json=query)
            if response.status_code != 200:
                problems.append(f"search {response.status_code}: {response.text}")
            elif any(m["item"]["camera"] != f"cam{n % 4}" for m in response.json()["matches"]):
                problems.append("search ignored the camera filter")
        response = client.get("/search", params={"q": "someone walking", "k": 10})
        if response.status_code != 200:
            problems.append(f"get search {response.status_code}")
    return stored, problems


@pytest.mark.slow
def test_concurrent_uploads_and_searches(micro_bundle: Path, tmp_path: Path) -> None:
    settings = live_settings(
        micro_bundle, tmp_path, batching={"text": {"max_batch": 8}, "image": {"max_batch": 8}}
    )
    with LiveServer(settings) as live:
        with ThreadPoolExecutor(CLIENTS) as pool:
            outcomes = list(pool.map(lambda n: _client_session(live.url, n), range(CLIENTS)))
        problems = [p for _, ps in outcomes for p in ps]
        assert not problems, problems[:5]
        stored: dict[str, int] = {}
        for mapping, _ in outcomes:
            for sha, item_id in mapping.items():
                assert stored.setdefault(sha, item_id) == item_id  # one id per distinct image
        with live.client() as client:
            page = client.get("/gallery", params={"limit": 500}).json()
            assert page["total"] == len(stored) == CLIENTS * 2 + CLIENTS
            assert {i["sha256"]: i["id"] for i in page["items"]} == stored
            assert client.get("/health").json()["gallery_size"] == len(stored)
            latency = client.get("/latency").json()["pipelines"]
            assert latency["search"]["total"]["count"] == CLIENTS * 3  # cache hits are searches too
            metrics = client.get("/metrics").text
            assert 'person_search_batch_size_bucket{le="1.0",tower="image"}' in metrics


async def _burst(url: str, texts: list[str]) -> list[httpx.Response]:
    """Send every search at once from its own connection."""
    limits = httpx.Limits(max_connections=len(texts))
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        return await asyncio.gather(*(client.get("/search", params={"q": t, "k": 3}) for t in texts))


@pytest.mark.slow
def test_a_full_queue_answers_429_under_concurrent_load(micro_bundle: Path, tmp_path: Path) -> None:
    """Many real clients against a text queue of two: some get 429 with Retry-After, the rest 200, and
    the server is healthy afterwards."""
    tiny = {"text": {"queue_size": 2, "max_batch": 1, "max_wait_ms": 0.0}}
    with LiveServer(live_settings(micro_bundle, tmp_path, batching=tiny)) as live:
        answers: list[httpx.Response] = []
        for burst in range(10):  # distinct texts: none is answered from the query cache
            texts = [f"person {burst}-{n} in a {n % 7}-coloured coat" for n in range(48)]
            answers += asyncio.run(_burst(live.url, texts))
            if any(a.status_code == 429 for a in answers):
                break
        statuses = Counter(a.status_code for a in answers)
        assert statuses[429] > 0 and statuses[200] > 0 and set(statuses) == {200, 429}, statuses
        for refused in (a for a in answers if a.status_code == 429):
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["error"]["code"] == "queue_full"
        with live.client() as client:
            assert client.get("/health").json()["ready"]
            assert client.get("/search", params={"q": "one more after the storm"}).status_code == 200
            assert 'status="429"' in client.get("/metrics").text
