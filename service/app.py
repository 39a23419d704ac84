"""The FastAPI app: a lifespan that loads and warms the model in the background, middleware, routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from service.errors import install_error_handlers
from service.middleware import RequestContextMiddleware
from service.openapi import install_openapi
from service.routes import (
    alerts,
    audit,
    cameras,
    erasure,
    export,
    gallery,
    holds,
    ops,
    search,
    tracks,
    watchlists,
    web,
)  # fmt: skip
from service.runtime import Runtime
from service.schemas import ErrorBody
from service.settings import Settings

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "malformed request: a body that is not JSON or multipart, an image that does not decode",
        401: "X-API-Key missing or unknown",
        403: "X-API-Key lacks the scope (read < write < admin)",
        404: "no such item (or route)",
        409: "the gallery was built with another model; a camera of that name exists; items on legal "
        "hold (code on_hold); an erasure's set changed since its preview (code set_changed)",
        413: "too large: bytes, files or pixels",
        415: "not a supported image format",
        422: "invalid field",
        429: "queue full; see Retry-After",
        503: "not ready yet (or cameras are off: no person detector)",
    }.items()
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """An app serving one bundle and one gallery as `settings` say."""
    settings = settings or Settings()
    runtime = Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        yield
        await runtime.stop()

    app = FastAPI(
        title="person-search",
        version="0.1.0",
        summary="Find person crops by a free-text description.",
        lifespan=lifespan,
        responses=ERRORS,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    install_openapi(app, settings.limits)
    limits = settings.limits
    form_limits = {"max_files": limits.max_files, "max_fields": 16, "max_part_size": limits.max_json_bytes}
    app.include_router(search.router)
    app.include_router(ops.router)
    app.include_router(audit.router)
    if settings.server.role == "edge":  # a hub has no gallery: uploads and images live on the sites
        app.include_router(gallery.router, form_limits=form_limits)  # type: ignore[arg-type]
        app.include_router(cameras.router)
        app.include_router(tracks.router)
        app.include_router(export.router)
        app.include_router(watchlists.router)
        app.include_router(alerts.router)
        app.include_router(holds.router)
        app.include_router(erasure.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=web.WEB_DIR), name="static")
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )

    def body_limit(scope: Scope) -> int:
        """Uploads may carry up to max_request_bytes, a watchlist or an erasure preview one image;
        everything else is small JSON."""
        path = scope["path"].rstrip("/")
        if scope["method"] == "POST" and path == "/gallery":
            return limits.max_request_bytes
        if scope["method"] == "POST" and path in ("/watchlists", "/erasures/preview"):
            return limits.max_file_bytes + limits.max_json_bytes
        return limits.max_json_bytes

    app.add_middleware(RequestContextMiddleware, body_limit=body_limit, metrics=runtime.metrics)
    return app
