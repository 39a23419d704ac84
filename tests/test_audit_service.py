"""The audit trail and named keys on a live server: each audited route leaves exactly one row naming the
key, the client address and what was asked; only admin keys read GET /audit (JSON or JSON lines); a wrong
key is refused and audited; a keys file rewritten while the server runs takes effect at the next request."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from camera_helpers import ColourDetector, camera_gallery, free_port
from service_live import LiveServer, assert_error_shape, crop_bytes, live_settings

from index.audit_chain import AuditRow
from index.audit_log import AUDIT_FILE, AuditLog, AuditQuery
from service.keys_file import Scope, add_key, remove_key

Step = Callable[[httpx.Client], httpx.Response]


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A keys file with alice (read), bob (write) and root (admin) -> (file, name -> key)."""
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    return path, {
        name: add_key(path, name, scope) for name, scope in zip(("alice", "bob", "root"), Scope, strict=True)
    }


@pytest.fixture(scope="module")
def live(
    micro_bundle: Path, tmp_path_factory: pytest.TempPathFactory, keys_file: tuple[Path, dict[str, str]]
) -> Iterator[LiveServer]:
    """A server over a camera pipeline's gallery (tracks and frames), with the keys file in force."""
    data = camera_gallery(tmp_path_factory.mktemp("audit"), micro_bundle)
    settings = live_settings(
        micro_bundle,
        data,
        auth={"keys_file": keys_file[0]},
        alerts={"min_background": 1},
        cameras={"max_backoff_s": 1.0},
    )
    server = LiveServer(settings)
    server.app.state.runtime.load_detector = lambda settings: ColourDetector()
    with server:
        yield server


def _as(keys: dict[str, str], name: str) -> dict[str, str]:
    return {"X-API-Key": keys[name]}


def _new_rows(live: LiveServer, after: int) -> list[AuditRow]:
    """The rows committed after row `after` (the writer drained first)."""
    runtime = live.app.state.runtime
    assert runtime.audit.flush(10)
    trail = AuditLog(runtime.audit.path, create=False)
    try:
        return trail.find(AuditQuery(after_id=after, limit=100))
    finally:
        trail.close()


def _last(live: LiveServer) -> int:
    rows = _new_rows(live, 0)
    return rows[-1].id if rows else 0


def test_every_audited_route_leaves_exactly_one_row(
    live: LiveServer, keys_file: tuple[Path, dict[str, str]]
) -> None:
    keys = keys_file[1]
    http = live.client()
    items = http.get("/gallery", params={"limit": 100}, headers=_as(keys, "alice")).json()["items"]
    first, last = items[0], items[-1]
    example = crop_bytes(5)
    camera_url = f"rtsp://127.0.0.1:{free_port()}/door"
    made: dict[str, int] = {}

    def call(method: str, who: str, url: str, **kwargs: Any) -> Step:
        headers = _as(keys, who) if who else {}
        return lambda h: h.request(method, url, headers=headers, **kwargs)

    def watchlist(h: httpx.Client) -> httpx.Response:
        answer = call("POST", "bob", "/watchlists", json={"name": "red", "text": "red coat"})(h)
        made["watchlist"] = answer.json()["id"]
        return answer

    item, track, gone = first["id"], first["track"]["id"], last["id"]
    asked = {"text": "a person", "top_k": 3, "filters": {"cameras": ["hall"]}}
    image = {"image": ("q.png", example, "image/png")}
    # (who, request, status, action, what the row's details must hold); action "": no row at all
    steps: list[tuple[str, Step, int, str, dict[str, Any]]] = [
        ("alice", call("POST", "alice", "/search", json=asked), 200, "search",
         {**asked, "filters": {"cameras": ["hall"], "metadata": {}}, "count": 3}),
        ("alice", call("GET", "alice", "/search", params={"q": "walking", "k": 2}), 200, "search",
         {"text": "walking", "top_k": 2, "count": 2}),
        ("alice", call("POST", "alice", "/search", files=image), 200, "search",
         {"example": {"image_sha256": hashlib.sha256(example).hexdigest()}}),
        ("alice", call("POST", "alice", "/search", json={"like": {"item_id": item}}), 200, "search",
         {"example": {"item_id": item}}),
        ("alice", call("GET", "alice", f"/gallery/{item}/image"), 200, "view.image", {"item_id": item}),
        ("alice", call("GET", "alice", f"/gallery/{item}/frame"), 200, "view.frame", {"item_id": item}),
        ("alice", call("GET", "alice", f"/tracks/{track}"), 200, "view.track", {"track_id": track}),
        ("alice", call("POST", "alice", "/export", json={"items": [item]}), 200, "export",
         {"items": [item], "exported_items": [item]}),
        ("bob", call("DELETE", "bob", f"/gallery/{gone}"), 200, "gallery.delete", {"item_id": gone}),
        ("bob", watchlist, 201, "watchlist.create", {"name": "red", "text": "red coat", "webhook": False}),
        ("bob", lambda h: call("DELETE", "bob", f"/watchlists/{made['watchlist']}")(h), 200,
         "watchlist.delete", {}),
        ("bob", call("POST", "bob", "/cameras", json={"name": "door", "url": camera_url}), 201,
         "camera.create", {"name": "door"}),
        ("bob", call("DELETE", "bob", "/cameras/door"), 200, "camera.delete", {"name": "door"}),
        ("alice", call("DELETE", "alice", f"/gallery/{item}"), 403, "auth.denied",
         {"reason": "scope", "needed": "write", "path": f"/gallery/{item}"}),
        ("root", call("GET", "root", "/audit", params={"action": "search"}), 200, "audit.read",
         {"action": ["search"]}),
        ("alice", call("GET", "alice", "/gallery"), 200, "", {}),  # listing and inspecting: no row
        ("alice", call("GET", "alice", f"/gallery/{item}"), 200, "", {}),
        ("", call("GET", "", "/health"), 200, "", {}),
    ]  # fmt: skip
    for who, step, status, action, expected in steps:
        before = _last(live)
        answer = step(http)
        assert answer.status_code == status, (action, answer.text)
        rows = _new_rows(live, before)
        if not action:
            assert rows == [], [r.entry.action for r in rows]
            continue
        assert len(rows) == 1, (action, [r.entry.action for r in rows])
        row = rows[0].entry
        details = json.loads(row.details)
        assert (row.action, row.actor, row.address) == (action, who, "127.0.0.1"), row
        assert {k: details.get(k) for k in expected} == expected, (action, details)
    assert live.app.state.runtime.audit.reader().verify().ok
    http.close()


def test_only_admin_keys_read_the_trail_as_json_or_json_lines(
    live: LiveServer, keys_file: tuple[Path, dict[str, str]]
) -> None:
    keys = keys_file[1]
    with live.client() as http:
        http.get("/search", params={"q": "someone"}, headers=_as(keys, "alice"))
        for name in ("alice", "bob"):
            assert_error_shape(http.get("/audit", headers=_as(keys, name)), 403)
        page = http.get("/audit", params={"actor": "alice", "limit": 2}, headers=_as(keys, "root"))
        assert page.status_code == 200 and page.json()["count"] == 2
        assert {r["actor"] for r in page.json()["rows"]} == {"alice"}
        following = http.get(
            "/audit",
            params={"actor": "alice", "after_id": page.json()["next_after_id"]},
            headers=_as(keys, "root"),
        ).json()["rows"]
        assert following and following[0]["id"] > page.json()["rows"][-1]["id"]
        lines = http.get("/audit", headers={**_as(keys, "root"), "Accept": "application/x-ndjson"})
        assert lines.headers["content-type"].startswith("application/x-ndjson")
        rows = [json.loads(line) for line in lines.text.splitlines()]
        assert [r["id"] for r in rows] == list(range(1, len(rows) + 1))  # the whole trail, in order
        assert all(r["prev_hash"] == p["hash"] for p, r in itertools.pairwise(rows))
        since = rows[-1]["at"]
        recent = http.get(
            "/audit", params={"format": "jsonl", "since": since}, headers=_as(keys, "root")
        ).text.splitlines()
        assert json.loads(recent[0])["id"] == rows[-1]["id"]
        for bad in ({"since": "yesterday"}, {"action": "serach"}, {"limit": 0}):
            error = assert_error_shape(http.get("/audit", params=bad, headers=_as(keys, "root")), 422)
            assert error["field"].split("[")[0] in bad, error


def test_a_wrong_key_gets_401_and_leaves_an_auth_denied_row(live: LiveServer) -> None:
    before = _last(live)
    with live.client() as http:
        refused = http.get("/search", params={"q": "x"}, headers={"X-API-Key": "ps_guessed"})
        assert assert_error_shape(refused, 401)["field"] == "X-API-Key"
        assert_error_shape(http.get("/search", params={"q": "x"}), 401)
    rows = _new_rows(live, before)
    assert [(r.entry.action, r.entry.actor, r.entry.address) for r in rows] == [
        ("auth.denied", "anonymous", "127.0.0.1")
    ] * 2
    wrong, missing = (json.loads(r.entry.details) for r in rows)
    assert wrong["reason"] == "unknown" and wrong["path"] == "/search" and missing["reason"] == "missing"
    trail = Path(live.app.state.runtime.audit.path)
    stored = b"".join(f.read_bytes() for f in trail.parent.glob(AUDIT_FILE + "*"))  # with the WAL
    assert b"ps_guessed" not in stored


def test_a_rewritten_keys_file_takes_effect_without_a_restart(
    live: LiveServer, keys_file: tuple[Path, dict[str, str]]
) -> None:
    path, keys = keys_file
    kept = path.read_bytes()
    with live.client() as http:
        carol = add_key(path, "carol", Scope.ADMIN)
        assert http.get("/audit", params={"limit": 1}, headers={"X-API-Key": carol}).status_code == 200
        remove_key(path, "carol")
        assert_error_shape(http.get("/audit", headers={"X-API-Key": carol}), 401)
        assert http.get("/search", params={"q": "x"}, headers=_as(keys, "alice")).status_code == 200
        path.write_text("{not json")  # a broken rewrite keeps the keys in force
        assert http.get("/search", params={"q": "x"}, headers=_as(keys, "alice")).status_code == 200
        assert_error_shape(http.get("/audit", headers={"X-API-Key": carol}), 401)
        path.unlink()  # no file at all: every named key is revoked, nothing is open
        assert_error_shape(http.get("/search", params={"q": "x"}, headers=_as(keys, "alice")), 401)
        path.write_bytes(kept)
        assert http.get("/search", params={"q": "x"}, headers=_as(keys, "alice")).status_code == 200
