"""The web page following a person, in real headless Chromium: one card per person, show track, the frame
with its box (checked in a screenshot), find similar, and the camera list."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from camera_helpers import ColourDetector, camera_gallery, free_port
from PIL import Image
from service_live import LiveServer, live_settings
from test_web import CHROMIUM, browser_page

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)"),
]


@pytest.fixture(scope="module")
def live(micro_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = camera_gallery(tmp_path_factory.mktemp("web-investigation"), micro_bundle)
    server = LiveServer(live_settings(micro_bundle, data, cameras={"max_backoff_s": 1.0}))
    server.app.state.runtime.load_detector = lambda settings: ColourDetector()
    with server, server.client() as http:
        url = f"rtsp://127.0.0.1:{free_port()}/door"
        assert http.post("/cameras", json={"name": "door", "url": url}).status_code == 201
        yield server


@pytest.fixture(scope="module")
def page(live: LiveServer) -> Iterator[object]:
    with browser_page(live.url + "/") as opened:
        yield opened


def test_one_card_per_person_then_their_track_and_frame(page, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    expect(page.locator("#status")).to_contain_text("crops", timeout=20_000)
    page.fill("#query", "a person walking")
    page.press("#query", "Enter")
    cards = page.locator("#results .card")
    expect(cards).to_have_count(3, timeout=20_000)  # three walkers, grouped by track
    expect(page.locator("#search-info")).to_contain_text("3 people")
    first = cards.first
    expect(first.locator(".track")).to_contain_text("crops")
    crops = int(first.locator(".track").inner_text().split(" · ")[1].split()[0])
    first.locator(".show-track").click()
    expect(page.locator("#viewer-track .card")).to_have_count(crops, timeout=10_000)
    first.locator(".show-frame").click()
    frame = page.locator("#viewer-frame")
    expect(frame).to_be_visible()
    page.wait_for_function("document.getElementById('viewer-frame').naturalWidth > 0")
    shot = Image.open(io.BytesIO(frame.screenshot())).convert("RGB")
    pixels = np.asarray(shot, np.int16)
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    assert red.sum() > 50, "the crop's box is drawn in red on the frame"
    shots = Path(os.environ.get("PERSON_SEARCH_SCREENSHOTS", tmp_path_factory.mktemp("shots")))
    page.screenshot(path=str(shots / "investigation.png"), full_page=True)


def test_find_similar_puts_that_person_first(page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.uncheck("#group")
    page.fill("#query", "")
    page.press("#query", "Enter")
    cards = page.locator("#results .card")
    cards.first.wait_for(timeout=10_000)
    wanted = cards.nth(2).get_attribute("data-id")
    cards.nth(2).locator(".similar").click()
    expect(page.locator("#example")).to_be_visible()
    expect(cards.first).to_have_attribute("data-id", wanted or "", timeout=10_000)


def test_the_camera_list_shows_state_and_errors(page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    row = page.locator("#cameras tbody tr")
    expect(row).to_have_count(1, timeout=10_000)
    expect(row.locator("td").first).to_have_text("door")
    expect(row.locator(".error")).to_contain_text("cannot open", timeout=15_000)


def test_alerts_arrive_live_and_can_be_acknowledged(page, live: LiveServer) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    expect(page.locator("#alerts-live")).to_have_text("live", timeout=15_000)
    page.fill("#watch-text", "a man in a red jacket")
    page.press("#watch-text", "Enter")
    expect(page.locator("#alerts-info")).to_contain_text("watching for", timeout=10_000)
    with live.client() as http:
        item = http.get("/gallery", params={"limit": 1}).json()["items"][0]
        made = http.post("/watchlists", json={"name": "this person", "item_id": item["id"]})
        assert made.status_code in (200, 201), made.text
        pixels = np.asarray(Image.open(io.BytesIO(http.get(item["image_url"]).content)).convert("RGB"))
        again = io.BytesIO()
        Image.fromarray(np.clip(pixels.astype(np.int16) + 3, 0, 255).astype(np.uint8)).save(again, "PNG")
        added = http.post("/gallery", files={"files": ("again.png", again.getvalue(), "image/png")}).json()
        assert added["added"] == 1
    alert = page.locator("#alerts li.alert.fresh").filter(has_text="this person")
    expect(alert).to_have_count(1, timeout=20_000)
    alert.locator(".ack").click()
    expect(page.locator("#alerts li.alert.acked").filter(has_text="this person")).to_have_count(1)
