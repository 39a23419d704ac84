"""Webhooks: an alert POSTed as JSON, signed with HMAC-SHA256 over the timestamp and the body.

Headers: `X-PersonSearch-Timestamp` (Unix seconds of this attempt), `X-PersonSearch-Signature`
(`sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>` with the shared secret) and `Idempotency-Key` (the
alert's uid, the same on every retry). A receiver recomputes the signature, refuses timestamps older than
a few minutes (a replayed request) and drops keys it has seen (a retry after a lost acknowledgement).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

TIMESTAMP_HEADER = "X-PersonSearch-Timestamp"
SIGNATURE_HEADER = "X-PersonSearch-Signature"
KEY_HEADER = "Idempotency-Key"
USER_AGENT = "person-search-alerts/1"


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes POSTed (and signed)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` over `<timestamp>.<body>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str, body: bytes, timestamp: str, signed: str, tolerance_s: float = 300, now: float | None = None
) -> bool:
    """Whether a received webhook is authentic and fresh (what a receiver runs)."""
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - moment) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, moment, body), signed)


class WebhookSender:
    """POSTs alerts to one URL; raises unless the receiver answers 2xx."""

    def __init__(self, url: str, secret: str, timeout_s: float = 5.0) -> None:
        self.url, self.secret, self.timeout_s = url, secret, timeout_s

    def send(self, payload: dict[str, Any]) -> None:
        """Deliver one alert, or raise (connection refused, timeout, a non-2xx status)."""
        body = body_of(payload)
        now = int(time.time())
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                TIMESTAMP_HEADER: str(now),
                SIGNATURE_HEADER: signature(self.secret, now, body),
                KEY_HEADER: str(payload["uid"]),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as err:
            raise ConnectionError(f"webhook {self.url} answered {err.code}") from err

    def close(self) -> None:
        """Nothing to release (one connection per request)."""
