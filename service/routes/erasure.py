"""Erasure: preview what would go (by item, by track, or everyone like an example), erase exactly that,
and read the receipt back.

Each preview and erasure is one audit row (the receipt's ids and sha256s in it); they take the write scope.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from index.erasure import PreviewNotFoundError, TooManyMatchesError, erase, preview
from index.errors import SetChangedError, UnknownIdsError
from index.receipts import ReceiptStore
from service.audit import Action
from service.deps import ActorDep, RuntimeDep, WriteAccess
from service.erasure_flow import preview_public, read_request, receipt_public, selector
from service.errors import ApiError, ErrorCode
from service.openapi import example_form, json_or_form_body
from service.privacy_schemas import ErasureIn, ErasurePreview, ErasureReceipt

router = APIRouter(prefix="/erasures", tags=["privacy"], dependencies=[WriteAccess])
ReceiptId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="receipt id")]
BODY = json_or_form_body("ErasureRequest", example_form("the rest of an ErasureRequest as JSON (min_score)"))


@router.post("/preview", response_model=ErasurePreview, openapi_extra=BODY)
async def preview_erasure(runtime: RuntimeDep, request: Request, actor: ActorDep) -> ErasurePreview:
    """List what an erasure would remove, and a token that erases exactly that set; removes nothing."""
    _, _, gallery = runtime.parts()
    body, image = await read_request(runtime, request)
    chosen = await selector(runtime, body, image)
    e = runtime.settings.erasure
    store = ReceiptStore(gallery.records)
    try:
        found = await run_in_threadpool(preview, gallery, store, chosen, e.max_items, e.preview_ttl_s)
    except UnknownIdsError as exc:
        raise ApiError(404, str(exc), field=exc.field, details=exc.ids) from exc
    except TooManyMatchesError as exc:
        raise ApiError(422, f"min_score: {exc}", field="min_score") from exc
    shown = await run_in_threadpool(preview_public, gallery, *found)
    details = {"count": shown.count, "digest": shown.digest, "selector": shown.selector}
    runtime.audit.record(Action.ERASURE_PREVIEW, actor, details)
    return shown


@router.post("", response_model=ErasureReceipt)
async def erase_items(runtime: RuntimeDep, body: ErasureIn, actor: ActorDep) -> ErasureReceipt:
    """Erase exactly what a preview listed: rows, vectors, files, alerts and the fleet's copies (queued);
    409 when the set changed since the preview or a legal hold covers some of it (named)."""
    _, _, gallery = runtime.parts()
    who, cap = actor.name, runtime.settings.erasure.max_items
    store = ReceiptStore(gallery.records)
    try:
        receipt = await run_in_threadpool(erase, gallery, store, body.token, who, cap)
    except PreviewNotFoundError as exc:
        raise ApiError(404, str(exc), field="token") from exc
    except SetChangedError as exc:
        changed = [{"added": exc.added, "gone": exc.gone}]
        raise ApiError(409, str(exc), code=ErrorCode.SET_CHANGED, field="token", details=changed) from exc
    except TooManyMatchesError as exc:
        raise ApiError(409, f"{exc}; preview again", code=ErrorCode.SET_CHANGED, field="token") from exc
    shown = receipt_public(receipt, runtime.settings.fleet.site_id)
    runtime.audit.record(Action.ERASURE, actor, receipt_details(shown))
    return shown


def receipt_details(receipt: ErasureReceipt) -> dict[str, Any]:
    """The receipt as an audit row holds it: ids and sha256s side by side, no pixels, no vectors."""
    shown = receipt.model_dump(mode="json", include={"id", "count", "digest", "selector", "fleet_site"})
    return {**shown, "items": [i.id for i in receipt.items], "sha256": [i.sha256 for i in receipt.items]}


@router.get("/{receipt_id}", response_model=ErasureReceipt)
async def get_receipt(runtime: RuntimeDep, receipt_id: ReceiptId) -> ErasureReceipt:
    """A stored erasure receipt: what was erased (ids and sha256s), when, and by whom."""
    _, _, gallery = runtime.parts()
    receipt = await run_in_threadpool(ReceiptStore(gallery.records).receipt, receipt_id)
    if receipt is None:
        raise ApiError(404, f"no erasure receipt {receipt_id}", field="receipt_id")
    return receipt_public(receipt, runtime.settings.fleet.site_id)
