"""Watchlists: standing queries every new crop is scored against (create and delete need write scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from service.alert_schemas import WatchlistDeleted, WatchlistIn, WatchlistPublic
from service.alert_views import watchlist_public
from service.audit import Action
from service.audit_details import watchlist_details
from service.deps import ActorDep, ReadAccess, RuntimeDep, WriteAccess
from service.errors import ApiError
from service.openapi import json_or_form_body
from service.watchlist_input import watchlist_spec

router = APIRouter(prefix="/watchlists", tags=["alerts"])
WatchlistId = Annotated[int, Path(ge=1, le=2**62, description="watchlist id")]
MULTIPART: dict[str, Any] = {
    "type": "object",
    "required": ["name", "image"],
    "properties": {
        "name": {"type": "string", "maxLength": 128},
        "image": {"type": "string", "format": "binary", "description": "a picture of the person"},
        "cameras": {"type": "string", "description": "comma-separated camera names"},
        "sensitivity": {"type": "number", "minimum": 0, "maximum": 1},
        "webhook_url": {"type": "string"},
    },
}
BODY = json_or_form_body("WatchlistIn", MULTIPART)


@router.post(
    "",
    response_model=WatchlistPublic,
    status_code=201,
    dependencies=[WriteAccess],
    openapi_extra=BODY,
)
async def create_watchlist(runtime: RuntimeDep, request: Request, actor: ActorDep) -> WatchlistPublic:
    """Watch for a person: JSON {name, text | item_id, cameras?, sensitivity?, webhook_url?}, or
    multipart with an `image` file instead of text."""
    engine = runtime.alert_engine()
    if await run_in_threadpool(engine.watchlists.count) >= runtime.settings.alerts.max_watchlists:
        raise ApiError(422, f"this service keeps at most {runtime.settings.alerts.max_watchlists} watchlists")
    spec = await watchlist_spec(runtime, request)
    stored = await run_in_threadpool(engine.add_watchlist, spec)
    shown = watchlist_public(stored, engine.model_id)
    runtime.audit.record(Action.WATCHLIST_CREATE, actor, watchlist_details(shown))
    return shown


@router.get("", response_model=list[WatchlistPublic], dependencies=[ReadAccess])
async def list_watchlists(runtime: RuntimeDep) -> list[WatchlistPublic]:
    """Every watchlist, oldest first."""
    engine = runtime.alert_engine()
    return [watchlist_public(w, engine.model_id) for w in await run_in_threadpool(engine.watchlists.all)]


@router.get("/{watchlist_id}", response_model=WatchlistPublic, dependencies=[ReadAccess])
async def get_watchlist(runtime: RuntimeDep, watchlist_id: WatchlistId) -> WatchlistPublic:
    """One watchlist."""
    engine = runtime.alert_engine()
    found = await run_in_threadpool(engine.watchlists.get, watchlist_id)
    if found is None:
        raise ApiError(404, f"no watchlist {watchlist_id}", field="watchlist_id")
    return watchlist_public(found, engine.model_id)


@router.delete("/{watchlist_id}", response_model=WatchlistDeleted, dependencies=[WriteAccess])
async def delete_watchlist(
    runtime: RuntimeDep, actor: ActorDep, watchlist_id: WatchlistId
) -> WatchlistDeleted:
    """Stop watching; the alerts it raised stay in the history."""
    engine = runtime.alert_engine()
    if not await run_in_threadpool(engine.delete_watchlist, watchlist_id):
        raise ApiError(404, f"no watchlist {watchlist_id}", field="watchlist_id")
    runtime.audit.record(Action.WATCHLIST_DELETE, actor, {"watchlist_id": watchlist_id})
    return WatchlistDeleted(id=watchlist_id, deleted=True)


__all__ = ["WatchlistIn", "router"]
