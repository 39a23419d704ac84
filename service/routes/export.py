"""Evidence export: a search's results, chosen tracks or chosen crops as one ZIP with a manifest."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from service.audit import Action
from service.audit_details import export_details
from service.deps import ActorDep, ReadAccess, RuntimeDep
from service.errors import ApiError
from service.export import ExportEntry, build_zip
from service.schemas import ExportRequest
from service.search_flow import run_search

router = APIRouter(tags=["export"], dependencies=[ReadAccess])


@router.post(
    "/export",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "crops, frames, manifest"}},
)
async def export(runtime: RuntimeDep, body: ExportRequest, actor: ActorDep) -> Response:
    """A ZIP of crops, their frames with boxes drawn, and manifest.json / manifest.csv."""
    _, _, gallery = runtime.parts()
    asked: dict[str, object] = {
        "exported_by": actor.name,
        "from": actor.address,
    }  # the key's name, never the key
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
    runtime.audit.record(Action.EXPORT, actor, export_details(asked, entries, archive))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {"Content-Disposition": f'attachment; filename="person-search-evidence-{stamp}.zip"'}
    return Response(archive, media_type="application/zip", headers=headers)
