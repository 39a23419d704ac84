"""A POST /watchlists request, JSON or multipart, read and checked, then embedded with the right tower."""

from __future__ import annotations

import json

import numpy as np
from fastapi import Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from alerts import WatchlistSpec
from alerts.watchlists import QueryKind
from service.alert_schemas import WatchlistIn
from service.errors import ApiError
from service.runtime import Runtime
from service.upload import decode_upload

FORM_FIELDS = ("name", "text", "item_id", "sensitivity", "webhook_url")


async def read_request(request: Request, max_file_bytes: int) -> tuple[WatchlistIn, bytes | None]:
    """The fields (checked by WatchlistIn) and the uploaded image bytes, if any."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        try:
            return WatchlistIn.model_validate_json(await request.body()), None
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                raise ApiError(
                    400, "body: not valid JSON; send JSON or multipart/form-data", field="body"
                ) from exc
            raise
    form = await request.form(max_files=1, max_fields=16, max_part_size=max_file_bytes)
    fields: dict[str, object] = {k: v for k in FORM_FIELDS if isinstance(v := form.get(k), str) and v != ""}
    cameras = [c for c in form.getlist("cameras") if isinstance(c, str)]
    if cameras:
        fields["cameras"] = [p.strip() for c in cameras for p in c.split(",") if p.strip()]
    image = form.get("image")
    if image is not None and not isinstance(image, UploadFile):
        raise ApiError(422, "image: must be a file part, not a text field", field="image")
    data = await image.read() if image is not None else None
    return WatchlistIn.model_validate_json(json.dumps(fields)), data


def check_sources(body: WatchlistIn, image: bytes | None) -> QueryKind:
    """Exactly one of text, image and item_id -> which it is; 422 naming the field otherwise."""
    given = [
        k
        for k, v in (
            (QueryKind.DESCRIPTION, body.text),
            (QueryKind.PICTURE, image),
            (QueryKind.ITEM, body.item_id),
        )
        if v is not None
    ]
    if not given:
        raise ApiError(
            422, "text: a watchlist needs a text, an image (multipart) or an item_id", field="text"
        )
    if len(given) > 1:
        names = {QueryKind.DESCRIPTION: "text", QueryKind.PICTURE: "image", QueryKind.ITEM: "item_id"}
        second = names[given[1]]
        raise ApiError(422, f"{second}: give only one of text, image and item_id", field=second)
    return given[0]


async def embed(
    runtime: Runtime, kind: QueryKind, body: WatchlistIn, image: bytes | None
) -> tuple[np.ndarray, bytes | None]:
    """The query's unit embedding (text tower for text, image tower for images and items) and the picture
    kept with it."""
    encoder, towers, gallery = runtime.parts()
    limits = runtime.settings.limits
    if kind == QueryKind.DESCRIPTION:
        assert body.text is not None
        if len(body.text) > limits.max_text_chars:
            raise ApiError(422, f"text: longer than {limits.max_text_chars} characters", field="text")
        (result,) = await towers.text.run([body.text])
        return result.row, None
    if kind == QueryKind.ITEM:
        assert body.item_id is not None
        found = await run_in_threadpool(gallery.records.items, [body.item_id], gallery.dim)
        path = await run_in_threadpool(gallery.image_file, body.item_id)
        if body.item_id not in found or path is None:
            raise ApiError(422, f"item_id: no gallery item {body.item_id}", field="item_id")
        return found[body.item_id][1], await run_in_threadpool(path.read_bytes)
    assert image is not None
    try:
        decoded = await run_in_threadpool(
            decode_upload, "image", image, limits.max_file_bytes, limits.max_pixels, limits.min_side
        )
    except ApiError as exc:
        raise ApiError(
            exc.status_code, f"image: {exc.message.removeprefix('image: ')}", field="image"
        ) from exc
    pixels = await run_in_threadpool(encoder.preprocess, [decoded.image])  # (1, 3, H, W)
    rows, _ = await towers.embed_pixels(pixels)
    return rows[0], image


async def watchlist_spec(runtime: Runtime, request: Request) -> WatchlistSpec:
    """Read, check and embed one watchlist request."""
    settings = runtime.settings
    body, image = await read_request(request, settings.limits.max_file_bytes)
    kind = check_sources(body, image)
    if body.webhook_url is not None and settings.alerts.webhook_secret is None:
        raise ApiError(
            422,
            "webhook_url: this server signs webhooks and has no alerts.webhook_secret",
            field="webhook_url",
        )
    vector, picture = await embed(runtime, kind, body, image)
    encoder, _, _ = runtime.parts()
    return WatchlistSpec(
        name=body.name,
        kind=kind,
        embedding=np.asarray(vector, np.float32),
        model_id=encoder.model_id,
        sensitivity=body.sensitivity if body.sensitivity is not None else settings.alerts.default_sensitivity,
        text=body.text,
        item_id=body.item_id,
        image=picture,
        cameras=tuple(body.cameras) if body.cameras is not None else None,
        webhook_url=body.webhook_url,
    )
