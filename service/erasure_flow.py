"""An erasure request read (JSON, or multipart with an example image), turned into the index's selector,
and its preview and receipt as the API shows them."""

from __future__ import annotations

import json

import numpy as np
from fastapi import Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from alerts.watchlists import WatchlistStore
from index import Gallery
from index.erasure import Match, Selector, holding
from index.receipts import Receipt, StoredPreview
from service.errors import ApiError
from service.privacy_schemas import ErasedItem, ErasureItem, ErasurePreview, ErasureReceipt, ErasureRequest
from service.runtime import Runtime
from service.upload import DecodedImage, decode_upload


def _parse(raw: str | bytes, field: str) -> ErasureRequest:
    """An ErasureRequest from JSON text; 400 when it is not JSON, 422 naming a wrong field."""
    try:
        return ErasureRequest.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise ApiError(400, f"{field}: not valid JSON", field=field) from exc
        raise


async def read_request(runtime: Runtime, request: Request) -> tuple[ErasureRequest, DecodedImage | None]:
    """The request, and the example image of a multipart one (checked like an upload)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return _parse(await request.body(), "body"), None
    limits = runtime.settings.limits
    form = await request.form(max_files=1, max_fields=4, max_part_size=limits.max_json_bytes)
    image, rest = form.get("image"), form.get("request")
    if not isinstance(image, UploadFile):
        raise ApiError(422, "image: the multipart form needs an image file part", field="image")
    data, name = await image.read(), image.filename or "image"
    decoded = await run_in_threadpool(
        decode_upload, name, data, limits.max_file_bytes, limits.max_pixels, limits.min_side
    )
    return _parse(rest if isinstance(rest, str) else "{}", "request"), decoded


async def selector(runtime: Runtime, body: ErasureRequest, image: DecodedImage | None) -> Selector:
    """The index's selector: the example embedded (a stored crop's vector, or the image tower's)."""
    encoder, towers, gallery = runtime.parts()
    if body.like is not None and image is not None:
        raise ApiError(422, "like: give a stored example or an uploaded image, not both", field="like")
    example = body.like is not None or image is not None
    if example != (body.min_score is not None):
        message = "min_score: an example needs a min_score" if example else "min_score: needs an example"
        raise ApiError(422, message, field="min_score")
    if not example and not body.items and not body.tracks:
        raise ApiError(422, "body: give items, tracks, or an example with a min_score", field="body")
    query: np.ndarray | None = None
    named: dict[str, int | str] = {}
    if body.like is not None:
        query = await run_in_threadpool(gallery.vector, body.like.item_id)
        if query is None:
            raise ApiError(404, f"like.item_id: no gallery item {body.like.item_id}", field="like.item_id")
        named = {"like_item": body.like.item_id}
    elif image is not None:
        pixels = await run_in_threadpool(encoder.preprocess, [image.image])  # (1, 3, H, W)
        rows, _ = await towers.embed_pixels(pixels)
        query, named = rows[0], {"image_sha256": image.sha256}
    return Selector(tuple(body.items), tuple(body.tracks), query, body.min_score, named)


def preview_public(gallery: Gallery, stored: StoredPreview, matches: list[Match]) -> ErasurePreview:
    """A stored preview as the API shows it, with holds and the watchlists made from its items."""
    holds = holding(gallery, matches)
    on_hold = sorted({i for items in holds.values() for i in items})
    ids = [m.item.id for m in matches]
    items = [
        ErasureItem(
            id=m.item.id, sha256=m.item.sha256, score=None if m.score is None else round(m.score, 6),
            camera=m.item.meta.camera, captured_at=m.item.meta.captured_at,
            track_id=m.item.meta.track.id if m.item.meta.track else None, held=m.item.id in set(on_hold),
        )
        for m in matches
    ]  # fmt: skip
    return ErasurePreview(
        token=stored.token if matches else None,
        digest=stored.digest,
        expires_at=stored.expires_at if matches else None,
        count=len(matches),
        items=items,
        held=on_hold,
        holds=sorted(holds),
        watchlists=WatchlistStore(gallery.records, gallery.dim).made_from(ids),
        selector=json.loads(json.dumps(stored.selector)),
    )


def receipt_public(receipt: Receipt, site: str | None) -> ErasureReceipt:
    """A receipt as the API shows it."""
    return ErasureReceipt(
        id=receipt.id,
        erased_at=receipt.erased_at,
        erased_by=receipt.erased_by,
        count=len(receipt.items),
        items=[ErasedItem(id=i, sha256=sha) for i, sha in receipt.items],
        digest=receipt.digest,
        selector=receipt.selector,
        fleet_site=site,
    )
