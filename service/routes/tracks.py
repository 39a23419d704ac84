"""Person tracks: one track's crops in time order, to follow a person on one camera."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from service.audit import Action
from service.deps import ActorDep, ReadAccess, RuntimeDep
from service.errors import ApiError
from service.schemas import TrackDetail
from service.views import item_public

router = APIRouter(prefix="/tracks", tags=["tracks"], dependencies=[ReadAccess])
TrackId = Annotated[int, Path(ge=1, le=2**62, description="gallery track id")]


@router.get("/{track_id}", response_model=TrackDetail)
async def get_track(runtime: RuntimeDep, actor: ActorDep, track_id: TrackId) -> TrackDetail:
    """A track's crops, earliest first, with its camera and time span."""
    _, _, gallery = runtime.parts()
    items = await run_in_threadpool(gallery.tracks.items, track_id)
    if not items:
        raise ApiError(404, f"no track {track_id}", field="track_id")
    runtime.audit.record(Action.VIEW_TRACK, actor, {"track_id": track_id, "items": [i.id for i in items]})
    shown = [item_public(i, runtime.settings.fleet.site_id) for i in items]
    track = shown[0].track
    assert track is not None
    return TrackDetail(
        id=track_id,
        camera=shown[0].camera,
        first_seen=track.first_seen,
        last_seen=track.last_seen,
        items=shown,
    )
