"""Webhook delivery through the durable queue: a receiver that is down, then up, gets every alert exactly
once, signed; and a service SIGKILLed with alerts still queued delivers them after its restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from alert_helpers import Receiver, free_port, until
from service_live import LiveServer, live_settings
from test_service_alerts import ALERTS, background, image_watchlist, upload

SECRET = "test-webhook-secret"
REPO = Path(__file__).resolve().parents[1]


def _pending(http: httpx.Client) -> dict[str, Any]:
    return dict(http.get("/health").json()["alerts"]["deliveries"])


def _alert_uids(http: httpx.Client) -> set[str]:
    return {a["uid"] for a in http.get("/alerts", params={"limit": 500}).json()["alerts"]}


def test_a_receiver_down_then_up_gets_every_alert_exactly_once(micro_bundle: Path, tmp_path: Path) -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/hook"
    own = Receiver(SECRET)  # one watchlist's own webhook, up all along
    alerts = {**ALERTS, "webhook_urls": [hook], "webhook_secret": SECRET, "max_backoff_s": 0.5}
    with LiveServer(live_settings(micro_bundle, tmp_path, alerts=alerts)) as server, server.client() as http:
        background(http)
        special = image_watchlist(http, "special", seed=0, webhook_url=own.url)
        for seed in range(1, 5):
            image_watchlist(http, f"p{seed}", seed=seed)
        for seed in range(5):
            upload(http, seed=seed)
        until("five alerts", lambda: len(_alert_uids(http)) >= 5)
        sink = until(
            "a failed delivery",
            lambda: (s := _pending(http).get("webhook:" + hook)) and s["last_error"] and s,
        )
        assert sink["pending"] == len(_alert_uids(http)) and sink["delivered"] == 0
        receiver = Receiver(SECRET, port=port)  # the receiver comes up
        try:
            until("the backlog drained", lambda: _pending(http)["webhook:" + hook]["pending"] == 0)
            uids = _alert_uids(http)
            assert sorted(receiver.keys) == sorted(uids) and len(set(receiver.keys)) == len(receiver.keys)
            assert receiver.bad == 0 and all(
                p["uid"] == k for p, k in zip(receiver.received, receiver.keys, strict=True)
            )
            assert [p["alert_id"] for p in receiver.received] == sorted(
                p["alert_id"] for p in receiver.received
            )
            until("the watchlist's own webhook", lambda: own.received)
            assert {p["watchlist_id"] for p in own.received} == {special["id"]}
            upload(http, seed=1, fmt="BMP")  # a new alert while the receiver is up goes at once
            until("the new alert", lambda: len(receiver.keys) == len(uids) + 1)
            time.sleep(1.0)  # time for any duplicate to show
            assert len(receiver.keys) == len(set(receiver.keys)) == len(_alert_uids(http))
        finally:
            receiver.close()
            own.close()


def _serve(port: int, data: Path, bundle: Path, hook: str) -> subprocess.Popen[bytes]:
    """The service as its own process, as `person-search serve` runs it."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PERSON_SEARCH_MODEL__BACKEND": "torch",
        "PERSON_SEARCH_INDEX__USE_GPU": "false",
        "PERSON_SEARCH_ALERTS__WEBHOOK_URLS": hook,
        "PERSON_SEARCH_ALERTS__WEBHOOK_SECRET": SECRET,
        "PERSON_SEARCH_ALERTS__MAX_BACKOFF_S": "0.5",
        "PERSON_SEARCH_ALERTS__MIN_BACKGROUND": "20",
        "PERSON_SEARCH_ALERTS__MIN_SCORE": "0",
        "PERSON_SEARCH_ALERTS__REFRESH_EVERY": "1",
    }
    args = ["-m", "cli", "serve", "--bundle", str(bundle), "--data-dir", str(data), "--port", str(port)]
    return subprocess.Popen([sys.executable, *args], env=env, cwd=REPO, stdout=subprocess.DEVNULL)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_alerts_queued_when_the_service_is_killed_are_delivered_after_restart(
    micro_bundle: Path, tmp_path: Path
) -> None:
    hook_port, port = free_port(), free_port()
    hook, url = f"http://127.0.0.1:{hook_port}/hook", f"http://127.0.0.1:{port}"
    child = _serve(port, tmp_path / "data", micro_bundle, hook)
    receiver = None
    try:
        until("the child server", lambda: _ready(url), within=120)
        with httpx.Client(base_url=url, timeout=60) as http:
            background(http)
            for seed in range(3):
                image_watchlist(http, f"p{seed}", seed=seed)
            for seed in range(3):
                upload(http, seed=seed)
            until("three queued alerts", lambda: _pending(http)["webhook:" + hook]["pending"] >= 3)
            queued = _alert_uids(http)
        os.kill(child.pid, signal.SIGKILL)  # no shutdown, no flush: only what SQLite committed survives
        child.wait(30)
        receiver = Receiver(SECRET, port=hook_port)
        assert not receiver.keys
        child = _serve(port, tmp_path / "data", micro_bundle, hook)
        until("the restarted server", lambda: _ready(url), within=120)
        until("the queued alerts delivered", lambda: len(receiver.keys) >= len(queued), within=60)
        assert sorted(receiver.keys) == sorted(queued)
        os.kill(child.pid, signal.SIGKILL)  # delivered and acknowledged: a second restart sends nothing
        child.wait(30)
        child = _serve(port, tmp_path / "data", micro_bundle, hook)
        until("the second restart", lambda: _ready(url), within=120)
        time.sleep(1.5)
        assert sorted(receiver.keys) == sorted(queued) and receiver.bad == 0
    finally:
        child.kill()
        child.wait(30)
        if receiver is not None:
            receiver.close()
