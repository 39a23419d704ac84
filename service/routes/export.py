"""Evidence export: a search's results, chosen tracks or chosen crops as one ZIP with a manifest."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from service.callers import caller_id
from service.deps import ApiKey, ReadAccess, RuntimeDep
from service.errors import ApiError
from service.export import ExportEntry, build_zip
from service.schemas import ExportRequest
from service.search_flow import run_search

router = APIRouter(tags=["export"], dependencies=[ReadAccess])


def requester(key: str | None, request: Request) -> dict[str, object]:
    """Who asked: a fingerprint of their API key (never the key itself) and their address."""
    return {"exported_by": caller_id(key), "from": request.client.host if request.client else None}


@router.post(
    "/export",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "crops, frames, manifest"}},
)
async def export(runtime: RuntimeDep, body: ExportRequest, request: Request, key: ApiKey = None) -> Response:
    """A ZIP of crops, their frames with boxes drawn, and manifest.json / manifest.csv."""
    _, _, gallery = runtime.parts()
    asked: dict[str, object] = requester(key, request)
    if body.search is not None:
        results = await run_search(runtime, body.search)
        found = await run_in_threadpool(lambda: [gallery.get(m.item.id) for m in results.matches])
        entries = [
            ExportEntry(item, m.rank, m.score) for m, item in zip(results.matches, found, strict=True) if item
        ]
        asked |= {
            "search": body.search.model_dump(mode="json", exclude_none=True),
            "model_id": results.model_id,
        }
    elif body.tracks is not None:
        items = await run_in_threadpool(
            lambda: [i for t in body.tracks or [] for i in gallery.tracks.items(t)]
        )
        entries = [ExportEntry(item, rank) for rank, item in enumerate(items, 1)]
        asked["tracks"] = body.tracks
    else:
        found = await run_in_threadpool(lambda: [gallery.get(i) for i in body.items or []])
        entries = [ExportEntry(item, rank) for rank, item in enumerate((i for i in found if i), 1)]
        asked["items"] = body.items
    if not entries:
        raise ApiError(404, "nothing to export: no such items or tracks, or no matches", field="body")
    archive = await run_in_threadpool(build_zip, gallery, entries, asked)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {"Content-Disposition": f'attachment; filename="person-search-evidence-{stamp}.zip"'}
    return Response(archive, media_type="application/zip", headers=headers)
