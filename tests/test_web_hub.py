"""The hub's web page in headless Chromium: fleet-wide search with a site filter, images from the site."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fleet_helpers import drained
from service_live import LiveServer, crop_bytes, live_settings
from test_web import CHROMIUM, browser_page

from index.fleet.lite_server import LiteServer, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)"),
]


@pytest.fixture(scope="module")
def hub(
    micro_bundle: Path, milvus: LiteServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    port = free_port()
    fleet = {
        "uri": milvus.uri,
        "poll_s": 0.05,
        "site_id": "web-site",
        "public_url": f"http://127.0.0.1:{port}",
    }
    edge = LiveServer(live_settings(micro_bundle, tmp_path_factory.mktemp("edge"), fleet=fleet), port=port)
    hub_settings = live_settings(
        micro_bundle, tmp_path_factory.mktemp("hub"), server={"role": "hub"}, fleet={"uri": milvus.uri}
    )
    with edge, edge.client() as client:
        files = [("files", (f"p{s}.png", crop_bytes(s, size=(96, 32)))) for s in range(6)]
        assert client.post("/gallery", files=files, data={"camera": "door"}).status_code == 200
        assert drained(edge)["pending"] == 0
        with LiveServer(hub_settings) as live:
            yield live


@pytest.fixture(scope="module")
def page(hub: LiveServer) -> Iterator[object]:
    with browser_page(hub.url + "/") as opened:
        yield opened


def test_hub_page_searches_every_site_and_shows_their_images(page, hub: LiveServer) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#status")).to_contain_text("fleet hub", timeout=20_000)
    expect(page.locator("#upload-section")).to_be_hidden()
    expect(page.locator("#camera")).to_be_hidden()
    page.fill("#query", "a man in a grey hoodie")
    page.fill("#sites", "web-site")  # other tests' sites share this Milvus
    page.press("#query", "Enter")
    cards = page.locator("#results .card")
    expect(cards).to_have_count(6, timeout=20_000)
    assert all(text.startswith("web-site · door") for text in cards.locator(".sub").all_inner_texts())
    page.wait_for_function(  # the crops come from the site's own URL, not from the hub
        "[...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    page.fill("#sites", "another-site")
    page.click("#search-form button")
    expect(cards).to_have_count(0, timeout=20_000)
    assert httpx.get(f"{hub.url}/gallery").status_code == 404
