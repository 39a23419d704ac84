"""FastAPI dependencies: the runtime, and API-key checks for the read, write and admin scopes, each of
which resolves the request's actor (request.state.actor, for the audit trail) and audits a refusal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from service.audit import Action
from service.errors import ApiError
from service.keys import ANONYMOUS, Actor, KeyDenied
from service.keys_file import Scope, hash_key
from service.runtime import Runtime

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="needed only when the server is configured with keys"
)


async def get_runtime(request: Request) -> Runtime:
    """The runtime the app was created with."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ApiKey = Annotated[str | None, Security(api_key_header)]


def _address(request: Request) -> str | None:
    """The client's address (uvicorn puts a trusted proxy's X-Forwarded-For here)."""
    return request.client.host if request.client else None


def authorize(runtime: Runtime, request: Request, key: str | None, needed: Scope) -> Actor:
    """The actor a request acts as; a refused key is audited, then answered 401 or 403."""
    try:
        named = runtime.keys.authorize(key, needed)
    except KeyDenied as denied:
        details: dict[str, object] = {
            "reason": denied.reason,
            "needed": str(needed),
            "method": request.method,
            "path": request.url.path,
        }
        if denied.reason == "unknown" and key:  # a removed key's stored hash starts so
            details["key_sha256_prefix"] = hash_key(key)[:12]
        runtime.audit.record(Action.AUTH_DENIED, Actor(denied.name or ANONYMOUS, _address(request)), details)
        raise ApiError(denied.status, str(denied), field="X-API-Key") from None
    actor = (
        Actor(named.name, _address(request), named.scope) if named else Actor(ANONYMOUS, _address(request))
    )
    request.state.actor = actor
    return actor


async def require_read(request: Request, runtime: RuntimeDep, key: ApiKey = None) -> Actor:
    """Allow reading the gallery, searching and exporting."""
    return authorize(runtime, request, key, Scope.READ)


async def require_write(request: Request, runtime: RuntimeDep, key: ApiKey = None) -> Actor:
    """Allow uploading, deleting, and changing cameras and watchlists."""
    return authorize(runtime, request, key, Scope.WRITE)


async def require_admin(request: Request, runtime: RuntimeDep, key: ApiKey = None) -> Actor:
    """Allow reading the audit trail."""
    return authorize(runtime, request, key, Scope.ADMIN)


async def current_actor(request: Request) -> Actor:
    """The actor the route's access dependency resolved (anonymous on a route that has none)."""
    actor: Actor | None = getattr(request.state, "actor", None)
    return actor if actor is not None else Actor(ANONYMOUS, _address(request))


ReadAccess = Depends(require_read)
WriteAccess = Depends(require_write)
AdminAccess = Depends(require_admin)
ActorDep = Annotated[Actor, Depends(current_actor)]
