"""Camera streams the service reads itself: add (write scope), list with their state, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from index.streams import StreamConfig
from service.audit import Action
from service.deps import ActorDep, ReadAccess, RuntimeDep, WriteAccess
from service.errors import ApiError
from service.schemas import CameraIn, CameraPublic, CameraRemoved

router = APIRouter(prefix="/cameras", tags=["cameras"])
CameraName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="camera name")]


@router.post("", response_model=CameraPublic, status_code=201, dependencies=[WriteAccess])
async def add_camera(runtime: RuntimeDep, actor: ActorDep, camera: CameraIn) -> CameraPublic:
    """Start reading a network camera (rtsp, rtsps, http, https) and keep it across restarts."""
    manager = runtime.camera_manager()
    config = StreamConfig(camera.name, camera.url, camera.fps, camera.enabled)
    try:
        status = await run_in_threadpool(manager.add, config)
    except KeyError as exc:
        raise ApiError(409, f"a camera named {camera.name!r} exists; DELETE it first", field="name") from exc
    except OverflowError as exc:
        raise ApiError(422, str(exc), field="name") from exc
    runtime.audit.record(Action.CAMERA_CREATE, actor, {"name": camera.name, "url": status["url"]})
    return CameraPublic(**status)


@router.get("", response_model=list[CameraPublic], dependencies=[ReadAccess])
async def list_cameras(runtime: RuntimeDep) -> list[CameraPublic]:
    """Every configured camera: connected, frames in and out per second, open tracks, crops, last error."""
    manager = runtime.camera_manager(require_detector=False)
    return [CameraPublic(**s) for s in await run_in_threadpool(manager.status)]


@router.delete("/{name}", response_model=CameraRemoved, dependencies=[WriteAccess])
async def remove_camera(runtime: RuntimeDep, actor: ActorDep, name: CameraName) -> CameraRemoved:
    """Stop reading a camera and forget it; the crops it stored stay in the gallery."""
    manager = runtime.camera_manager(require_detector=False)
    if not await run_in_threadpool(manager.remove, name):
        raise ApiError(404, f"no camera named {name!r}", field="name")
    runtime.audit.record(Action.CAMERA_DELETE, actor, {"name": name})
    return CameraRemoved(name=name, removed=True)
