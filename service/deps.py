"""FastAPI dependencies: the runtime, and API-key checks for the read and write scopes."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from pydantic import SecretStr

from service.errors import ApiError
from service.runtime import Runtime
from service.settings import AuthSettings

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="needed only when the server is configured with keys"
)


async def get_runtime(request: Request) -> Runtime:
    """The runtime the app was created with."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ApiKey = Annotated[str | None, Security(api_key_header)]


def _matches(key: str, keys: list[SecretStr]) -> bool:
    """Constant-time membership test."""
    return any(hmac.compare_digest(key.encode(), k.get_secret_value().encode()) for k in keys)


def check_key(auth: AuthSettings, key: str | None, write: bool) -> None:
    """A scope with no keys is open; write keys also read. Missing or unknown -> 401, wrong scope -> 403."""
    needed = auth.write_keys if write else [*auth.read_keys, *auth.write_keys]
    if not (auth.write_keys if write else auth.read_keys):
        return
    scope = "write" if write else "read"
    if not key:
        raise ApiError(401, f"this endpoint needs an X-API-Key with {scope} access", field="X-API-Key")
    if _matches(key, needed):
        return
    if _matches(key, [*auth.read_keys, *auth.write_keys]):
        raise ApiError(403, f"this X-API-Key has no {scope} access", field="X-API-Key")
    raise ApiError(401, "unknown X-API-Key", field="X-API-Key")


async def require_read(runtime: RuntimeDep, key: ApiKey = None) -> None:
    """Allow reading the gallery and searching."""
    check_key(runtime.settings.auth, key, write=False)


async def require_write(runtime: RuntimeDep, key: ApiKey = None) -> None:
    """Allow uploading and deleting."""
    check_key(runtime.settings.auth, key, write=True)


ReadAccess = Depends(require_read)
WriteAccess = Depends(require_write)
