"""The OpenAPI document with the limits this server was configured with, not just the defaults."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.settings import LimitSettings


def _tighten(schema: dict[str, Any], limits: LimitSettings) -> None:
    """Write max text length, top_k and page size into the request schema and query parameters."""
    request = schema.get("components", {}).get("schemas", {}).get("SearchRequest", {}).get("properties", {})
    if request:
        request["text"]["maxLength"] = limits.max_text_chars
        request["top_k"]["maximum"] = limits.max_top_k
    bounds = {"q": ("maxLength", limits.max_text_chars), "k": ("maximum", limits.max_top_k)}
    bounds["limit"] = ("maximum", limits.max_page)
    for path in ("/search", "/gallery"):
        for parameter in schema.get("paths", {}).get(path, {}).get("get", {}).get("parameters", []):
            if parameter["name"] in bounds:
                key, value = bounds[parameter["name"]]
                parameter["schema"][key] = value


def install_openapi(app: FastAPI, limits: LimitSettings) -> None:
    """Serve /openapi.json with the configured limits."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            _tighten(schema, limits)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
