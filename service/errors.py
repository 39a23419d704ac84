"""One JSON error shape for every refusal, and the handlers that turn exceptions into it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextvars import ContextVar
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from index.errors import FieldError, HeldError, ModelMismatchError
from service.batcher import QueueFullError

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class ErrorCode(StrEnum):
    """Stable machine-readable error codes; the message says the rest in words."""

    BAD_REQUEST = "bad_request"
    INVALID = "invalid"
    TOO_LARGE = "too_large"
    UNSUPPORTED_MEDIA = "unsupported_media_type"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    MODEL_MISMATCH = "model_mismatch"
    ON_HOLD = "on_hold"  # 409: items a legal hold covers
    SET_CHANGED = "set_changed"  # 409: an erasure's set differs from its preview
    CONFLICT = "conflict"  # 409: the request clashes with the state (a hold released already)
    QUEUE_FULL = "queue_full"
    NOT_READY = "not_ready"
    INTERNAL = "internal"


_CODE_FOR_STATUS = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.MODEL_MISMATCH,
    413: ErrorCode.TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA,
    422: ErrorCode.INVALID,
    429: ErrorCode.QUEUE_FULL,
    503: ErrorCode.NOT_READY,
}


class ApiError(StarletteHTTPException):
    """A refusal with a status, a code, a message and what it is about (a field or a file)."""

    def __init__(
        self,
        status: int,
        message: str,
        code: ErrorCode | None = None,
        field: str | None = None,
        file: str | None = None,
        details: list[Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, message, headers)
        self.code = code or _CODE_FOR_STATUS.get(status, ErrorCode.BAD_REQUEST)
        self.message, self.field, self.file, self.details = message, field, file, details

    def body(self) -> dict[str, Any]:
        """The JSON body: {"error": {status, code, message, field?, file?, details?, request_id}}."""
        error: dict[str, Any] = {"status": self.status_code, "code": str(self.code), "message": self.message}
        for key, value in (("field", self.field), ("file", self.file), ("details", self.details)):
            if value is not None:
                error[key] = value
        error["request_id"] = request_id_var.get()
        return {"error": error}


class ErrorJSON(JSONResponse):
    """JSON in ASCII: an error may quote text UTF-8 cannot carry (a lone surrogate a client sent)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


class UnavailableError(RuntimeError):
    """Something the service depends on (the fleet's Milvus) did not answer; 503 with Retry-After."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def error_response(error: ApiError) -> JSONResponse:
    """Render an ApiError with its headers."""
    return ErrorJSON(error.body(), status_code=error.status_code, headers=error.headers)


def mismatch_message(exc: ModelMismatchError) -> str:
    """What a model mismatch says, with the restart that makes the server see the fix."""
    return f"{exc}; then restart the service"


def _field_name(loc: tuple[Any, ...]) -> str:
    """('body', 'filters', 'cameras', 0) -> 'filters.cameras[0]'; the source part is dropped."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header", "form")]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


async def _validation_error(request: Request, exc: RequestValidationError | ValidationError) -> JSONResponse:
    """422 naming the first offending field, with every problem listed in details."""
    problems = [{"field": _field_name(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
    first = problems[0] if problems else {"field": "body", "message": "invalid request"}
    return error_response(
        ApiError(422, f"{first['field']}: {first['message']}", field=first["field"], details=problems)
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Starlette/FastAPI HTTP exceptions (404 route, 405, ...) in the same shape."""
    if isinstance(exc, ApiError):
        return error_response(exc)
    detail = str(exc.detail)
    if exc.status_code == 400 and detail.startswith("Too many files"):  # Starlette's multipart limits
        return error_response(ApiError(413, detail, field="files"))
    if exc.status_code == 400 and detail.startswith("Part exceeded maximum size"):
        return error_response(ApiError(413, detail, field="body"))
    return error_response(ApiError(exc.status_code, detail, headers=exc.headers))


async def _queue_full(request: Request, exc: QueueFullError) -> JSONResponse:
    """429 with Retry-After when a tower's queue cannot take more."""
    return error_response(ApiError(429, str(exc), headers={"Retry-After": str(exc.retry_after)}))


async def _unavailable(request: Request, exc: UnavailableError) -> JSONResponse:
    """503 with Retry-After: the server is up, what it needs is not."""
    return error_response(ApiError(503, str(exc), headers={"Retry-After": str(exc.retry_after)}))


async def _field_error(request: Request, exc: FieldError) -> JSONResponse:
    """422 for a value the gallery cannot store or compare (a metadata key, a filter value)."""
    return error_response(ApiError(422, str(exc), field=exc.field))


async def _held(request: Request, exc: HeldError) -> JSONResponse:
    """409 naming the holds that keep the items (DELETE /gallery, erasure), and which items each keeps."""
    holds = [{"hold_id": h, "items": items} for h, items in sorted(exc.holds.items())]
    error = ApiError(409, str(exc), code=ErrorCode.ON_HOLD, field="items", details=holds)
    return error_response(error)


async def _model_mismatch(request: Request, exc: ModelMismatchError) -> JSONResponse:
    """409 with how to fix it; the gallery changed model under this server (another process re-indexed
    it), so every later request gets the same answer until a restart, rather than mixed embeddings."""
    request.app.state.runtime.mismatch(exc)
    return error_response(ApiError(409, mismatch_message(exc)))


def install_error_handlers(app: FastAPI) -> None:
    """Route known exceptions through the one error shape (the request middleware catches the rest).

    This is the one place library exceptions become HTTP statuses; routes raise ApiError for their own.
    """
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(ValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(QueueFullError, _queue_full)  # type: ignore[arg-type]
    app.add_exception_handler(UnavailableError, _unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(FieldError, _field_error)  # type: ignore[arg-type]
    app.add_exception_handler(ModelMismatchError, _model_mismatch)  # type: ignore[arg-type]
    app.add_exception_handler(HeldError, _held)  # type: ignore[arg-type]
