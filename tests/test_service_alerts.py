"""Watchlists and alerts through the HTTP API of a real server: bad input named, history and paging,
acknowledgement, the SSE stream with Last-Event-ID, and MQTT delivery to a real mosquitto."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alert_helpers import Mosquitto, Subscriber, until
from service_live import LiveServer, assert_error_shape, crop_bytes, live_settings

ALERTS = {"min_background": 20, "min_score": 0.0, "refresh_every": 1, "stream_keepalive_s": 0.3}


def background(http: httpx.Client, count: int = 40, seed: int = 1000) -> None:
    """Crops every later score is calibrated against."""
    files = [("files", (f"bg{i}.png", crop_bytes(seed + i), "image/png")) for i in range(count)]
    assert http.post("/gallery", files=files, data={"camera": "hall"}).json()["added"] == count


def image_watchlist(http: httpx.Client, name: str, seed: int, **fields: Any) -> dict[str, Any]:
    """A watchlist made from a picture (multipart)."""
    answer = http.post(
        "/watchlists",
        files={"image": ("q.png", crop_bytes(seed), "image/png")},
        data={"name": name, "sensitivity": "0", **fields},
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def upload(http: httpx.Client, seed: int, camera: str = "gate", fmt: str = "PNG") -> int:
    """One crop (the picture of `seed`) -> its item id."""
    image = ("c", crop_bytes(seed, fmt), f"image/{fmt.lower()}")
    body = http.post("/gallery", files={"files": image}, data={"camera": camera})
    return int(body.json()["items"][0]["id"])


@pytest.fixture
def live(micro_bundle: Path, tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(live_settings(micro_bundle, tmp_path, alerts=ALERTS)) as server:
        yield server


def test_bad_watchlists_get_a_clear_4xx_naming_the_field(live: LiveServer) -> None:
    http = live.client()
    hook = "http://127.0.0.1:9/x"

    def form(data: bytes, **fields: str) -> dict[str, Any]:
        return {"files": {"image": ("x.png", data, "image/png")}, "data": {"name": "x", **fields}}

    cases = [
        ({"json": {"name": "nothing"}}, 422, "text"),
        (
            {"json": {"name": "ftp", "text": "a man", "webhook_url": "ftp://example.com/x"}},
            422,
            "webhook_url",
        ),
        ({"json": {"name": "loud", "text": "a man", "sensitivity": 1.5}}, 422, "sensitivity"),
        ({"json": {"name": "two", "text": "a man", "item_id": 1}}, 422, "item_id"),
        ({"json": {"name": "gone", "item_id": 999}}, 422, "item_id"),
        ({"json": {"name": "hook", "text": "a man", "webhook_url": hook}}, 422, "webhook_url"),  # no secret
        ({"json": {"text": "a man"}}, 422, "name"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "body"),
        (form(b"text, not a picture"), 415, "image"),
        (form(b"\x89PNG\r\n\x1a\nbroken"), 400, "image"),
        (form(crop_bytes(1), sensitivity="-1"), 422, "sensitivity"),
    ]
    for request, status, field in cases:
        error = assert_error_shape(http.post("/watchlists", **request), status)
        assert error["field"] == field, (request, error)
        assert field in error["message"] or status == 400
    assert http.get("/watchlists").json() == []  # nothing half-made
    assert assert_error_shape(http.get("/watchlists/7"), 404)["field"] == "watchlist_id"
    assert assert_error_shape(http.post("/alerts/7/ack"), 404)["field"] == "alert_id"
    assert http.get("/health").json()["ready"]


def test_watchlists_alert_once_and_the_history_pages_and_acks(live: LiveServer) -> None:
    http = live.client()
    background(http)
    text = http.post(
        "/watchlists", json={"name": "red coat", "text": "a woman in a red coat", "cameras": ["lobby"]}
    )
    assert text.status_code == 201 and text.json()["kind"] == "text" and text.json()["cameras"] == ["lobby"]
    assert text.json()["sensitivity"] == 0.35 and 0 < text.json()["q"] < 1  # the configured default
    made = [image_watchlist(http, f"person {i}", seed=i) for i in range(3)]
    item = http.post("/watchlists", json={"name": "that one", "item_id": 1, "sensitivity": 0}).json()
    assert item["kind"] == "item" and item["item_id"] == 1
    listed = http.get("/watchlists").json()
    assert [w["name"] for w in listed] == ["red coat", "person 0", "person 1", "person 2", "that one"]
    assert http.get(f"/watchlists/{made[0]['id']}").json()["name"] == "person 0"
    items = [upload(http, seed=i) for i in range(3)]  # each the very picture a watchlist was made from
    page = until("three alerts", lambda: (p := http.get("/alerts").json())["count"] >= 3 and p)
    mine = {a["watchlist_id"]: a for a in page["alerts"] if a["item_id"] in items}
    for watchlist, item_id in zip(made, items, strict=True):
        alert = mine[watchlist["id"]]
        assert alert["item_id"] == item_id and alert["camera"] == "gate" and alert["score"] > 0.99
        assert alert["calibrated"] == 1.0 and alert["score"] > alert["threshold"]
        assert alert["image_url"] == f"/gallery/{item_id}/image" and alert["frame_url"] is None
        assert http.get(alert["image_url"]).status_code == 200
    assert text.json()["id"] not in {a["watchlist_id"] for a in page["alerts"]}  # lobby only
    first = http.get("/alerts", params={"limit": 1}).json()
    second = http.get("/alerts", params={"limit": 1, "before_id": first["next_before_id"]}).json()
    assert second["alerts"][0]["id"] < first["alerts"][0]["id"]
    one = mine[made[1]["id"]]
    assert [
        a["id"] for a in http.get("/alerts", params={"watchlist_id": made[1]["id"]}).json()["alerts"]
    ] == [one["id"]]
    assert http.get("/alerts", params={"since": "2100-01-01T00:00:00Z"}).json()["count"] == 0
    acked = http.post(f"/alerts/{one['id']}/ack").json()
    assert acked["acked"] and acked["acked_at"]
    assert http.post(f"/alerts/{one['id']}/ack").json()["acked_at"] == acked["acked_at"]  # the first time
    assert [a["id"] for a in http.get("/alerts", params={"acked": True}).json()["alerts"]] == [one["id"]]
    upload(http, seed=0, camera="hall", fmt="BMP")  # the same picture in new bytes: uploads alert per item
    until(
        "a fourth alert",
        lambda: http.get("/alerts", params={"watchlist_id": made[0]["id"]}).json()["count"] == 2,
    )
    assert http.delete(f"/watchlists/{made[0]['id']}").json() == {"id": made[0]["id"], "deleted": True}
    assert http.get("/alerts", params={"watchlist_id": made[0]["id"]}).json()["count"] == 2  # history stays
    health = http.get("/health").json()["alerts"]
    assert health["watchlists"] == 4 and health["behind"] == 0


def _read_events(
    response: httpx.Response, events: list[dict[str, Any]], comments: list[str], stop: threading.Event
) -> None:
    """Parse a text/event-stream into events (with their ids) and comment lines."""
    current: dict[str, Any] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            comments.append(line)
        elif line.startswith("id:"):
            current["id"] = int(line[3:].strip())
        elif line.startswith("event:"):
            current["event"] = line[6:].strip()
        elif line.startswith("data:"):
            current["data"] = json.loads(line[5:].strip())
        elif line == "" and current:
            events.append(current)
            current = {}
        if stop.is_set():
            return


def _stream(
    live: LiveServer, headers: dict[str, str]
) -> tuple[httpx.Client, list[dict[str, Any]], list[str], threading.Event]:
    client = httpx.Client(base_url=live.url, timeout=httpx.Timeout(30, read=30))
    events: list[dict[str, Any]] = []
    comments: list[str] = []
    stop = threading.Event()

    def run() -> None:
        try:
            with client.stream("GET", "/alerts/stream", headers=headers) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                _read_events(response, events, comments, stop)
        except httpx.HTTPError:
            assert stop.is_set()  # closed by the test, not by the server

    threading.Thread(target=run, daemon=True).start()
    return client, events, comments, stop


def test_the_stream_sends_each_alert_and_a_reconnect_gets_what_it_missed(live: LiveServer) -> None:
    http = live.client()
    background(http)
    watchlists = [image_watchlist(http, f"p{i}", seed=i) for i in range(4)]
    client, events, comments, stop = _stream(live, {})
    until("the stream's first comment", lambda: comments)
    upload(http, seed=0)
    until("an alert event", lambda: any(e.get("event") == "alert" for e in events))
    until("a keep-alive comment", lambda: any("keep-alive" in c for c in comments))
    seen = events[-1]
    assert seen["data"]["watchlist_id"] == watchlists[0]["id"] and seen["id"] == seen["data"]["alert_id"]
    stop.set()
    client.close()
    missed = [upload(http, seed=i) for i in (1, 2)]  # raised while nobody listened
    until("two more alerts", lambda: http.get("/alerts").json()["count"] >= 3)
    client, again, _, stop = _stream(live, {"Last-Event-ID": str(seen["id"])})
    until("the missed alerts", lambda: len(again) >= 2)
    assert [e["data"]["item_id"] for e in again[:2]] == missed and again[0]["id"] > seen["id"]
    upload(http, seed=3)
    until("a live alert after the replay", lambda: len(again) >= 3)
    assert again[2]["data"]["watchlist_id"] == watchlists[3]["id"]
    stop.set()
    client.close()
    assert assert_error_shape(http.get("/alerts/stream", headers={"Last-Event-ID": "soon"}), 422)[
        "field"
    ] == ("Last-Event-ID")


def test_alerts_reach_mqtt_as_flat_json(micro_bundle: Path, tmp_path: Path) -> None:
    with Mosquitto(tmp_path) as broker:
        subscriber = Subscriber(broker.port, "site7/alerts/#")
        settings = live_settings(
            micro_bundle,
            tmp_path / "data",
            alerts={**ALERTS, "mqtt_topic_prefix": "site7", "public_url": "http://edge.local:8000"},
            mqtt={"host": "127.0.0.1", "port": broker.port},
        )
        with LiveServer(settings) as server, server.client() as http:
            background(http)
            image_watchlist(http, "Front Door: Bob!", seed=5)
            item_id = upload(http, seed=5)
            topic, payload = until("an MQTT alert", lambda: subscriber.messages and subscriber.messages[0])
            assert topic == "site7/alerts/front_door_bob"
            assert payload["item_id"] == item_id and payload["watchlist"] == "Front Door: Bob!"
            assert payload["image_url"] == f"http://edge.local:8000/gallery/{item_id}/image"
            assert all(not isinstance(v, dict | list) for v in payload.values())  # flat: HA templates read it
            sinks = until(
                "the sink drained", lambda: (s := http.get("/health").json()["alerts"]["deliveries"]) and s
            )
            assert sinks["mqtt"]["pending"] == 0 and sinks["mqtt"]["delivered"] == 1
        subscriber.close()
