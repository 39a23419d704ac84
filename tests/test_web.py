"""The web page in real headless Chromium (Debian's chromium driven by Playwright): search and upload."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from service_live import LiveServer, crop_bytes, live_settings

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)"),
]


@pytest.fixture(scope="module")
def live(micro_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(live_settings(micro_bundle, tmp_path_factory.mktemp("gallery"))) as server:
        with server.client() as client:
            for camera, seeds in (("gate-2", range(6)), ("lobby", range(6, 10))):
                files = [("files", (f"p{s}.png", crop_bytes(s, size=(96, 32)))) for s in seeds]
                assert client.post("/gallery", files=files, data={"camera": camera}).status_code == 200
        yield server


@contextmanager
def browser_page(url: str) -> Iterator[object]:
    """A headless Chromium page opened at url."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def page(live: LiveServer) -> Iterator[object]:
    with browser_page(live.url + "/") as opened:
        yield opened


def test_type_a_description_and_see_ranked_results(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#status")).to_contain_text("10 crops", timeout=20_000)
    page.fill("#query", "a woman in a red jacket and black boots")
    page.press("#query", "Enter")
    cards = page.locator("#results .card")
    expect(cards).to_have_count(10, timeout=20_000)
    scores = [float(s) for s in cards.locator(".score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    assert cards.locator(".rank").all_inner_texts()[:3] == ["#1", "#2", "#3"]
    expect(page.locator("#search-info")).to_contain_text("10 people from 10 crops")
    page.wait_for_function(
        "[...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    shots = Path(os.environ.get("PERSON_SEARCH_SCREENSHOTS", tmp_path_factory.mktemp("shots")))
    page.screenshot(path=str(shots / "search.png"), full_page=True)


def test_camera_filter_narrows_results(page) -> None:
    from playwright.sync_api import expect

    page.select_option("#camera", "lobby")
    page.click("#search-form button")
    cards = page.locator("#results .card")
    expect(cards).to_have_count(4, timeout=20_000)
    assert all("lobby" in text for text in cards.locator(".sub").all_inner_texts())


def test_upload_form_reports_each_file(page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    good, bad = tmp_path / "new.png", tmp_path / "notes.txt"
    good.write_bytes(crop_bytes(99, size=(96, 32)))
    bad.write_text("not an image")
    page.set_input_files("#files", [str(good), str(bad)])
    page.fill("#up-camera", "dock")
    page.click("#upload-form button")
    expect(page.locator("#upload-info")).to_contain_text("1 added, 0 duplicates, 1 failed", timeout=20_000)
    expect(page.locator("#upload-outcomes li.error")).to_contain_text("notes.txt")
    assert page.locator("#upload-progress").get_attribute("value") == "100"
    expect(page.locator("#status")).to_contain_text("11 crops")
    expect(page.locator("#camera option", has_text="dock")).to_have_count(1)
