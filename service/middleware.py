"""Pure ASGI middleware: request id, access log, body-size limits, request metrics, last-resort 500."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ApiError, ErrorCode, error_response, request_id_var
from service.metrics import Metrics

access_log = logging.getLogger("service.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestContextMiddleware:
    """Give every request an id (X-Request-ID in and out), cap its body, log and count it."""

    def __init__(self, app: ASGIApp, body_limit: Callable[[Scope], int], metrics: Metrics) -> None:
        self.app, self.body_limit, self.metrics = app, body_limit, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        start, status, started = time.perf_counter(), 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            limit = self.body_limit(scope)
            await self.app(scope, _limited(receive, headers, limit), send_with_id)
        except Exception as exc:  # never let one request take the server down
            if started:
                raise
            if isinstance(exc, ApiError):
                error = exc
            else:
                access_log.exception("unhandled error on %s %s", scope["method"], scope["path"])
                error = ApiError(
                    500, "internal error; the log has details under this request id", ErrorCode.INTERNAL
                )
            await error_response(error)(scope, receive, send_with_id)
        finally:
            self._record(scope, status, (time.perf_counter() - start) * 1000.0)
            request_id_var.reset(token)

    def _record(self, scope: Scope, status: int, ms: float) -> None:
        """One access-log line with the request id, and the request counter by route template."""
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        self.metrics.requests.labels(scope["method"], route, str(status)).inc()
        access_log.info(
            "%s %s %s %d %.1fms", request_id_var.get(), scope["method"], scope["path"], status, ms
        )


def _limited(receive: Receive, headers: Headers, limit: int) -> Receive:
    """A receive that refuses bodies over `limit` bytes (by Content-Length up front, then by count)."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(
            413, f"request body of {declared} bytes exceeds the limit of {limit} bytes", field="body"
        )
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise ApiError(413, f"request body exceeds the limit of {limit} bytes", field="body")
        return message

    return receive_limited
