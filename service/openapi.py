"""The OpenAPI document with the limits this server was configured with, not just the defaults, and
links between the gallery's operations."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.schemas import SearchRequest
from service.settings import LimitSettings


def json_or_form_body(
    schema: str, form: dict[str, Any], examples: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`openapi_extra` for a route that reads a JSON `schema` or a multipart form with an image."""
    as_json: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
    if examples:
        as_json["examples"] = examples
    content = {"application/json": as_json, "multipart/form-data": {"schema": form}}
    return {"requestBody": {"required": True, "content": content}}


def example_form(request: str) -> dict[str, Any]:
    """The multipart form of a search-like request: an example crop, and a `request` part described so."""
    return {
        "type": "object",
        "required": ["image"],
        "properties": {
            "image": {"type": "string", "format": "binary", "description": "the example: a person crop"},
            "request": {"type": "string", "description": request},
        },
    }


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


_ITEM = "#/paths/~1gallery~1{item_id}"  # JSON pointers to the item operations (`/` spelt `~1`)
_ITEM_OPS = {"GetItem": f"{_ITEM}/get", "GetImage": f"{_ITEM}~1image/get", "DeleteItem": f"{_ITEM}/delete"}
_LINK_SOURCES = {  # (path, method, status) -> where the item id is in that answer
    ("/gallery", "post", "200"): "$response.body#/items/0/id",
    ("/gallery", "get", "200"): "$response.body#/items/0/id",
    ("/gallery/{item_id}", "get", "200"): "$response.body#/id",
    ("/gallery/{item_id}", "delete", "200"): "$request.path.item_id",
}


def _link(schema: dict[str, Any]) -> None:
    """OpenAPI links from answers that name an item to the operations on it: documentation for clients,
    and what stateful testing follows (upload -> get -> image -> delete -> get again)."""
    paths = schema.get("paths", {})
    for (path, method, status), source in _LINK_SOURCES.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is not None:  # a hub serves no gallery
            links = {
                name: {"operationRef": ref, "parameters": {"item_id": source}}
                for name, ref in _ITEM_OPS.items()
            }
            response["links"] = links


def _components(schema: dict[str, Any]) -> None:
    """SearchRequest and the models it uses: POST /search parses its JSON or multipart body by hand."""
    request = SearchRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    models = schema.setdefault("components", {}).setdefault("schemas", {})
    models.update(request.pop("$defs", {}))
    models["SearchRequest"] = request


def install_openapi(app: FastAPI, limits: LimitSettings) -> None:
    """Serve /openapi.json with the configured limits."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            _components(schema)
            _tighten(schema, limits)
            _link(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
