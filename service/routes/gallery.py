"""The gallery: upload crops with metadata, list, inspect, fetch the image, delete."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from index.metadata import MAX_DEPTH, check_metadata
from service.audit import Action
from service.deps import ActorDep, ReadAccess, RuntimeDep, WriteAccess
from service.errors import ApiError
from service.evidence import frame_with_box
from service.ingest import Upload, ingest
from service.schemas import PAGE_CAP, Deleted, GalleryItemPublic, GalleryPage, UploadResults
from service.upload import MEDIA_TYPES, sniff_format
from service.views import item_meta, item_public

router = APIRouter(prefix="/gallery", tags=["gallery"])
ItemId = Annotated[int, Path(ge=1, le=2**62, description="gallery item id")]


def _parse_extra(metadata: str | None) -> dict[str, Any]:
    """The free JSON metadata field: an object, or nothing."""
    if not metadata:
        return {}
    try:
        value = json.loads(metadata)
    except json.JSONDecodeError as exc:
        raise ApiError(422, f"metadata: not valid JSON ({exc.msg})", field="metadata") from exc
    except RecursionError as exc:
        raise ApiError(422, f"metadata: nested deeper than {MAX_DEPTH} levels", field="metadata") from exc
    if not isinstance(value, dict):
        raise ApiError(422, "metadata: must be a JSON object", field="metadata")
    check_metadata(value)  # before any decoding: FieldError (422) names what cannot be stored
    return value


async def _read_uploads(files: list[UploadFile], max_files: int, max_bytes: int) -> list[Upload]:
    """Read each file's bytes unless its size already breaks the per-file limit."""
    if len(files) > max_files:
        raise ApiError(
            413, f"files: {len(files)} files exceeds the limit of {max_files} per request", field="files"
        )
    uploads = []
    for i, file in enumerate(files):
        name = file.filename or f"files[{i}]"
        if file.size is not None and file.size > max_bytes:
            error = ApiError(
                413, f"{name}: {file.size} bytes exceeds the limit of {max_bytes} per file", file=name
            )
            uploads.append(Upload(i, name, None, error))
            continue
        uploads.append(Upload(i, name, await file.read()))
    return uploads


@router.post("", response_model=UploadResults, dependencies=[WriteAccess])
async def upload(
    runtime: RuntimeDep,
    files: Annotated[list[UploadFile], File(description="one or many person crops (JPEG, PNG, WebP, BMP)")],
    camera: Annotated[str | None, Form(max_length=128, examples=["gate-2"])] = None,
    captured_at: Annotated[datetime | None, Form(examples=["2024-05-01T08:30:00Z"])] = None,
    external_id: Annotated[str | None, Form(max_length=256, examples=["track-1187"])] = None,
    metadata: Annotated[
        str | None, Form(description="a JSON object stored with every file", examples=['{"zone": "north"}'])
    ] = None,
) -> UploadResults:
    """Add crops; the answer lists each file's outcome (added, duplicate, or the error that refused it)."""
    runtime.parts()  # 503 or 409 before reading anything
    limits = runtime.settings.limits
    meta = item_meta(camera, captured_at, external_id, _parse_extra(metadata))
    uploads = await _read_uploads(files, limits.max_files, limits.max_file_bytes)
    results = await ingest(runtime, uploads, meta)
    if results.failed and results.failed == len(results.items):
        first = results.items[0].error
        assert first is not None
        raise ApiError(
            first.status,
            first.message,
            file=results.items[0].filename,
            details=[i.model_dump() for i in results.items],
        )
    return results


@router.get("", response_model=GalleryPage, dependencies=[ReadAccess])
async def list_items(
    runtime: RuntimeDep,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_CAP, description="at most limits.max_page")] = 50,
    camera: Annotated[str | None, Query(max_length=128)] = None,
) -> GalleryPage:
    """A page of stored items, optionally from one camera, plus the cameras known."""
    _, _, gallery = runtime.parts()
    limit = min(limit, runtime.settings.limits.max_page)
    items, cameras = await run_in_threadpool(lambda: (gallery.list(offset, limit, camera), gallery.cameras()))
    return GalleryPage(
        items=[item_public(i) for i in items], offset=offset, limit=limit, total=len(gallery), cameras=cameras
    )


@router.get("/{item_id}", response_model=GalleryItemPublic, dependencies=[ReadAccess])
async def get_item(runtime: RuntimeDep, item_id: ItemId) -> GalleryItemPublic:
    """One item's record."""
    _, _, gallery = runtime.parts()
    item = await run_in_threadpool(gallery.get, item_id)
    if item is None:
        raise ApiError(404, f"no gallery item {item_id}", field="item_id")
    return item_public(item)


@router.get(
    "/{item_id}/image",
    response_class=FileResponse,
    dependencies=[ReadAccess],
    responses={
        200: {"content": {t: {} for t in MEDIA_TYPES.values()}, "description": "the stored image bytes"}
    },
)
async def get_image(runtime: RuntimeDep, actor: ActorDep, item_id: ItemId) -> FileResponse:
    """The stored image, as uploaded; served only from inside the data directory."""
    _, _, gallery = runtime.parts()
    path = await run_in_threadpool(gallery.image_file, item_id)
    root = gallery.data_dir.resolve()
    if path is None or not path.resolve().is_relative_to(root) or not path.is_file():
        raise ApiError(404, f"no image for gallery item {item_id}", field="item_id")
    with path.open("rb") as handle:
        fmt = sniff_format(handle.read(16))
    media_type = MEDIA_TYPES[fmt] if fmt else "application/octet-stream"
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=300"}
    runtime.audit.record(Action.VIEW_IMAGE, actor, {"item_id": item_id})
    return FileResponse(path.resolve(), media_type=media_type, headers=headers)


@router.get(
    "/{item_id}/frame",
    response_class=Response,
    dependencies=[ReadAccess],
    responses={200: {"content": {"image/jpeg": {}}, "description": "the evidence frame as a JPEG"}},
)
async def get_frame(
    runtime: RuntimeDep,
    actor: ActorDep,
    item_id: ItemId,
    box: Annotated[bool, Query(description="draw the crop's box on the frame")] = True,
) -> Response:
    """The whole frame a camera crop came from (downscaled), with the crop's box drawn; 404 for uploads."""
    _, _, gallery = runtime.parts()
    item = await run_in_threadpool(gallery.get, item_id)
    path = await run_in_threadpool(gallery.frame_file, item_id) if item is not None else None
    if item is None or path is None:
        raise ApiError(404, f"no evidence frame for gallery item {item_id}", field="item_id")
    jpeg = await run_in_threadpool(frame_with_box, path, item.meta.box if box else None)
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=300"}
    runtime.audit.record(Action.VIEW_FRAME, actor, {"item_id": item_id, "box": box})
    return Response(jpeg, media_type="image/jpeg", headers=headers)


@router.delete("/{item_id}", response_model=Deleted, dependencies=[WriteAccess])
async def delete_item(runtime: RuntimeDep, actor: ActorDep, item_id: ItemId) -> Deleted:
    """Remove an item and its image."""
    _, _, gallery = runtime.parts()
    if not await run_in_threadpool(gallery.delete, item_id):
        raise ApiError(404, f"no gallery item {item_id}", field="item_id")
    runtime.audit.record(Action.GALLERY_DELETE, actor, {"item_id": item_id})
    return Deleted(id=item_id, deleted=True)
