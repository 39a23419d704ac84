"""Legal holds: keep items or tracks past retention, and away from erasure, until released.

Placing and releasing a hold is each one audit row; the routes take the write scope.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from index.errors import UnknownIdsError
from index.holds import Hold, Holds
from service.audit import Action
from service.deps import ActorDep, RuntimeDep, WriteAccess
from service.errors import ApiError, ErrorCode
from service.privacy_schemas import HoldIn, HoldList, HoldPublic

router = APIRouter(prefix="/holds", tags=["privacy"], dependencies=[WriteAccess])
HoldId = Annotated[int, Path(ge=1, le=2**62, description="hold id")]


def hold_public(hold: Hold) -> HoldPublic:
    """A hold as the API shows it."""
    return HoldPublic(
        id=hold.id, reason=hold.reason, held_by=hold.held_by, created_at=hold.created_at,
        items=list(hold.items), tracks=list(hold.tracks), active=hold.released_at is None,
        released_at=hold.released_at, released_by=hold.released_by,
    )  # fmt: skip


@router.post("", response_model=HoldPublic, status_code=201)
async def place_hold(runtime: RuntimeDep, body: HoldIn, actor: ActorDep) -> HoldPublic:
    """Hold items and tracks (a track's later crops too) for an investigation: {items?, tracks?, reason}."""
    _, _, gallery = runtime.parts()
    who = actor.name
    try:
        hold = await run_in_threadpool(
            Holds(gallery.records).place, body.items, body.tracks, body.reason, who
        )
    except UnknownIdsError as exc:
        raise ApiError(404, str(exc), field=exc.field, details=exc.ids) from exc
    shown = hold_public(hold)
    runtime.audit.record(Action.HOLD_PLACE, actor, shown.model_dump(mode="json"))
    return shown


@router.get("", response_model=HoldList)
async def list_holds(
    runtime: RuntimeDep,
    include_released: Annotated[bool, Query(description="also the holds released")] = False,
) -> HoldList:
    """The holds in force (or all of them), newest first."""
    _, _, gallery = runtime.parts()
    holds = Holds(gallery.records)
    found, covered = await run_in_threadpool(lambda: (holds.list(include_released), holds.covered()))
    return HoldList(holds=[hold_public(h) for h in found], held_items=covered)


@router.get("/{hold_id}", response_model=HoldPublic)
async def get_hold(runtime: RuntimeDep, hold_id: HoldId) -> HoldPublic:
    """One hold."""
    _, _, gallery = runtime.parts()
    hold = await run_in_threadpool(Holds(gallery.records).get, hold_id)
    if hold is None:
        raise ApiError(404, f"no hold {hold_id}", field="hold_id")
    return hold_public(hold)


@router.delete("/{hold_id}", response_model=HoldPublic)
async def release_hold(runtime: RuntimeDep, hold_id: HoldId, actor: ActorDep) -> HoldPublic:
    """Release a hold: what it kept follows the retention policy again (the purge runs at once)."""
    _, _, gallery = runtime.parts()
    who = actor.name
    found = await run_in_threadpool(Holds(gallery.records).release, hold_id, who)
    if found is None:
        raise ApiError(404, f"no hold {hold_id}", field="hold_id")
    hold, released = found
    if not released:
        message = f"hold {hold_id} was released at {hold.released_at}"
        raise ApiError(409, message, code=ErrorCode.CONFLICT, field="hold_id")
    shown = hold_public(hold)
    runtime.audit.record(Action.HOLD_RELEASE, actor, shown.model_dump(mode="json"))
    if runtime.purger is not None:
        runtime.purger.wake()
    return shown
