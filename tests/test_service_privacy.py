"""Retention, legal holds and erasure over HTTP: a real uvicorn server with API keys, replicating to a
real Milvus Lite hub; bad input gets 400/401/403/404/409/422 naming what was wrong."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fleet_helpers import drained
from service_live import LiveServer, assert_error_shape, crop_bytes, live_settings

from index.audit_log import AuditLog, AuditQuery
from index.fleet import CentralCollection
from index.fleet.lite_server import LiteServer
from index.milvus_conn import connect

WRITE, READ, SITE = "write-key-1", "read-key-1", "privacy-edge"
JSON, PREVIEW = {"content-type": "application/json"}, "/erasures/preview"


@pytest.fixture(scope="module")
def server(
    micro_bundle: Path, milvus: LiteServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    settings = live_settings(
        micro_bundle,
        tmp_path_factory.mktemp("privacy"),
        auth={"write_keys": [WRITE], "read_keys": [READ]},
        retention={"default": "1h", "cameras": {"lobby": "keep"}, "interval_s": 3600},
        fleet={"uri": milvus.uri, "site_id": SITE, "public_url": "http://edge.example:8000", "poll_s": 0.05},
    )
    with LiveServer(settings) as live:
        yield live


@pytest.fixture()
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client(headers={"X-API-Key": WRITE}) as client:
        yield client


def upload(http: httpx.Client, seeds: list[int], **form: str) -> list[int]:
    files = [("files", (f"{s}.png", crop_bytes(s))) for s in seeds]
    response = http.post("/gallery", files=files, data=form)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@dataclass(frozen=True)
class Audited:
    """One audit row as these tests read it."""

    actor: str
    details: dict[str, Any]


def audit_rows(server: LiveServer, action: str) -> list[Audited]:
    """The audit trail's rows of one action, oldest first (the writer drained first)."""
    runtime = server.app.state.runtime
    assert runtime.audit.flush(10)
    trail = AuditLog(runtime.audit.path, create=False)
    try:
        rows = trail.find(AuditQuery(actions=(action,), limit=1000))
    finally:
        trail.close()
    return [Audited(r.entry.actor, json.loads(r.entry.details)) for r in rows]


def stored(http: httpx.Client) -> set[int]:
    return {i["id"] for i in http.get("/gallery", params={"limit": 500}).json()["items"]}


def hub_ids(http: httpx.Client, server: LiveServer) -> set[int]:
    """The local ids this edge has on the fleet hub, once its outbox is drained."""
    assert drained(server)["pending"] == 0
    health = http.get("/health").json()
    central = CentralCollection(
        connect(server.settings.fleet.uri or ""), health["model_id"], health["embed_dim"]
    )
    return set(central.ensure().site_ids(SITE).tolist())


def hours_ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


def wait_until(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_expired_crops_vanish_except_those_on_hold(http: httpx.Client, server: LiveServer) -> None:
    old = upload(http, [1, 2, 3], captured_at=hours_ago(3))
    kept = upload(http, [4], captured_at=hours_ago(3), camera="lobby") + upload(http, [5])
    health = http.get("/health").json()["retention"]
    assert health["default_s"] == 3600 and health["cameras_s"] == {"lobby": None}
    assert (
        health["oldest_item_age_s"] == pytest.approx(3 * 3600, abs=120) and health["next_purge_in_s"] > 3000
    )
    assert {old[0], old[1]} <= hub_ids(http, server)

    held = http.post("/holds", json={"items": [old[0]], "reason": "case 17, a stolen bike"})
    assert held.status_code == 201, held.text
    hold = held.json()
    assert hold["items"] == [old[0]] and hold["active"] and hold["held_by"] == "write-1"
    other = http.post("/holds", json={"items": [kept[1]], "reason": "nothing"}).json()
    listed = http.get("/holds").json()
    assert [h["id"] for h in listed["holds"]] == [other["id"], hold["id"]] and listed["held_items"] == 2

    released = http.delete(f"/holds/{other['id']}")  # a release runs the purge at once
    assert released.status_code == 200 and not released.json()["active"]
    wait_until(lambda: old[1] not in stored(http), "the purge")
    assert stored(http) >= {old[0], *kept} and not stored(http) & {old[1], old[2]}
    assert http.get(f"/gallery/{old[1]}").status_code == 404
    assert http.get(f"/gallery/{old[1]}/image").status_code == 404
    text = http.get("/search", params={"q": "a person", "k": 50}).json()["matches"]
    assert not {m["item"]["id"] for m in text} & {old[1], old[2]}
    assert not hub_ids(http, server) & {old[1], old[2]} and old[0] in hub_ids(http, server)
    last = http.get("/health").json()["retention"]["last_purge"]
    assert last["purged"] >= 2
    purged = [i for row in audit_rows(server, "retention.purge") for i in row.details["items"]]
    assert {old[1], old[2]} <= set(purged) and old[0] not in purged
    assert {r.actor for r in audit_rows(server, "retention.purge")} == {"retention"}
    (placed,) = [r for r in audit_rows(server, "hold.place") if r.details["id"] == hold["id"]]
    assert placed.actor == "write-1" and placed.details["items"] == [old[0]]

    assert http.delete(f"/holds/{hold['id']}").status_code == 200
    wait_until(lambda: old[0] not in stored(http), "the purge after the release")
    assert set(kept) <= stored(http)
    assert hold["id"] in [r.details["id"] for r in audit_rows(server, "hold.release")]
    every = http.get("/holds", params={"include_released": True}).json()["holds"]
    assert {h["id"] for h in every} >= {hold["id"], other["id"]} and http.get("/holds").json()["holds"] == []


def test_erasure_by_example_erases_what_the_preview_listed(http: httpx.Client, server: LiveServer) -> None:
    ids = upload(http, list(range(40, 52)), camera="lobby")
    like = http.post("/search", json={"like": {"item_id": ids[0]}, "top_k": 50}).json()["matches"]
    scores = [m["score"] for m in like if m["item"]["id"] in ids]
    threshold = (scores[3] + scores[4]) / 2  # the example and the three most like it
    body = {"like": {"item_id": ids[0]}, "min_score": threshold}
    shown = http.post("/erasures/preview", json=body)
    assert shown.status_code == 200, shown.text
    preview = shown.json()
    listed = [i["id"] for i in preview["items"]]
    assert preview["count"] == 4 and ids[0] in listed and set(listed) <= set(ids)
    assert all(i["score"] >= threshold for i in preview["items"]) and preview["held"] == []
    assert set(listed) <= stored(http)  # nothing gone yet

    erased = http.post("/erasures", json={"token": preview["token"]})
    assert erased.status_code == 200, erased.text
    receipt = erased.json()
    assert [i["id"] for i in receipt["items"]] == sorted(listed) and receipt["digest"] == preview["digest"]
    assert receipt["fleet_site"] == SITE and receipt["erased_by"] == "write-1"
    assert not stored(http) & set(listed) and set(ids) - set(listed) <= stored(http)
    assert not hub_ids(http, server) & set(listed)
    assert http.get(f"/erasures/{receipt['id']}").json() == receipt
    previewed, done = audit_rows(server, "erasure.preview")[-1], audit_rows(server, "erasure")[-1]
    assert previewed.actor == done.actor == "write-1" and previewed.details["digest"] == preview["digest"]
    assert done.details["id"] == receipt["id"] and done.details["items"] == sorted(listed)
    assert done.details["sha256"] == [i["sha256"] for i in receipt["items"]]
    again = assert_error_shape(http.post("/erasures", json={"token": preview["token"]}), 404)
    assert again["field"] == "token" and "used or expired" in again["message"]


def test_erasure_by_an_uploaded_image(http: httpx.Client) -> None:
    (item,) = upload(http, [60], camera="lobby")
    files = {"image": ("me.png", crop_bytes(60))}
    preview = http.post("/erasures/preview", files=files, data={"request": '{"min_score": 0.999}'}).json()
    assert [i["id"] for i in preview["items"]] == [item] and preview["selector"]["example"]["image_sha256"]
    assert http.post("/erasures", json={"token": preview["token"]}).status_code == 200
    assert http.get(f"/gallery/{item}").status_code == 404


def test_holds_and_changes_refuse_an_erasure_with_409(http: httpx.Client) -> None:
    a, b = upload(http, [70, 71], camera="lobby")
    hold = http.post("/holds", json={"items": [a], "reason": "case 18"}).json()
    preview = http.post("/erasures/preview", json={"items": [a, b]}).json()
    assert preview["held"] == [a] and preview["holds"] == [hold["id"]]
    refused = assert_error_shape(http.post("/erasures", json={"token": preview["token"]}), 409)
    assert refused["code"] == "on_hold" and f"hold {hold['id']}" in refused["message"]
    assert refused["details"] == [{"hold_id": hold["id"], "items": [a]}]
    assert {a, b} <= stored(http)
    deleted = assert_error_shape(http.delete(f"/gallery/{a}"), 409)
    assert deleted["code"] == "on_hold"

    http.delete(f"/gallery/{b}")
    changed = assert_error_shape(http.post("/erasures", json={"token": preview["token"]}), 409)
    assert changed["code"] == "set_changed" and f"gone or changed: [{b}]" in changed["message"]
    assert http.delete(f"/holds/{hold['id']}").status_code == 200
    twice = assert_error_shape(http.delete(f"/holds/{hold['id']}"), 409)
    assert twice["field"] == "hold_id" and "was released" in twice["message"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "field"),
    [
        ("post", "/holds", {"json": {"reason": "x"}}, 422, None),
        ("post", "/holds", {"json": {"items": [1]}}, 422, "reason"),
        ("post", "/holds", {"json": {"items": [1], "reason": "   "}}, 422, None),
        ("post", "/holds", {"json": {"items": [999999], "reason": "x"}}, 404, "items"),
        ("post", "/holds", {"json": {"tracks": [999999], "reason": "x"}}, 404, "tracks"),
        ("post", "/holds", {"json": {"items": ["one"], "reason": "x"}}, 422, "items[0]"),
        ("get", "/holds/999999", {}, 404, "hold_id"),
        ("delete", "/holds/999999", {}, 404, "hold_id"),
        ("delete", "/holds/zero", {}, 422, "hold_id"),
        ("post", "/erasures/preview", {"json": {}}, 422, "body"),
        ("post", "/erasures/preview", {"json": {"min_score": 0.5}}, 422, "min_score"),
        ("post", "/erasures/preview", {"json": {"like": {"item_id": 1}}}, 422, "min_score"),
        ("post", PREVIEW, {"json": {"like": {"item_id": 10**6}, "min_score": 0}}, 404, "like.item_id"),
        ("post", "/erasures/preview", {"json": {"items": [999999]}}, 404, "items"),
        ("post", "/erasures/preview", {"json": {"items": [1], "everyone": True}}, 422, "everyone"),
        ("post", "/erasures/preview", {"json": {"like": {"item_id": 1}, "min_score": 2}}, 422, "min_score"),
        ("post", "/erasures/preview", {"content": b"{not json", "headers": JSON}, 400, "body"),
        ("post", "/erasures/preview", {"files": {"request": (None, '{"min_score": 0.9}')}}, 422, "image"),
        ("post", "/erasures", {"json": {}}, 422, "token"),
        ("post", "/erasures", {"json": {"token": "no-such-token"}}, 404, "token"),
        ("get", "/erasures/not-a-receipt", {}, 422, "receipt_id"),
        ("get", f"/erasures/{'0' * 32}", {}, 404, "receipt_id"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_by_name(
    http: httpx.Client, method: str, path: str, kwargs: dict[str, Any], status: int, field: str | None
) -> None:
    error = assert_error_shape(getattr(http, method)(path, **kwargs), status)
    if field is not None:
        assert error["field"] == field, error


def test_the_privacy_routes_need_the_write_scope(server: LiveServer) -> None:
    with server.client() as anonymous, server.client(headers={"X-API-Key": READ}) as reader:
        assert_error_shape(anonymous.post("/holds", json={"items": [1], "reason": "x"}), 401)
        assert_error_shape(reader.get("/holds"), 403)
        assert_error_shape(reader.post("/erasures/preview", json={"items": [1]}), 403)
        assert_error_shape(reader.get(f"/erasures/{'0' * 32}"), 403)
