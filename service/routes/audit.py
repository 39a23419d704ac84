"""The audit trail (admin scope): filtered by time, actor and action, paged, or exported as JSON lines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from index.audit_log import AuditLog, AuditQuery
from service.audit import Action, utc_text
from service.audit_schemas import AuditPage, audit_public
from service.deps import ActorDep, AdminAccess, RuntimeDep

router = APIRouter(tags=["audit"], dependencies=[AdminAccess])
NDJSON = "application/x-ndjson"
CHUNK = 1000  # rows read per query while streaming JSON lines


class AuditFormat(StrEnum):
    """How GET /audit answers."""

    JSON = "json"
    JSONL = "jsonl"


async def _lines(trail: AuditLog, query: AuditQuery, limit: int | None) -> AsyncIterator[bytes]:
    """Every matching row (or the first `limit`) as one JSON object per line, read in chunks."""
    left = limit  # None: all of them
    while left is None or left > 0:
        chunk = CHUNK if left is None else min(CHUNK, left)
        rows = await run_in_threadpool(trail.find, replace(query, limit=chunk))
        for row in rows:
            yield audit_public(row).model_dump_json().encode() + b"\n"
        if len(rows) < chunk:
            return
        query = replace(query, after_id=rows[-1].id)
        left = None if left is None else left - len(rows)


@router.get(
    "/audit",
    response_model=AuditPage,
    responses={200: {"content": {NDJSON: {}}, "description": "format=jsonl: one row per line"}},
)
async def read_audit(
    runtime: RuntimeDep,
    request: Request,
    actor: ActorDep,
    since: Annotated[datetime | None, Query(description="at or after (UTC if no zone)")] = None,
    until: Annotated[datetime | None, Query(description="at or before (UTC if no zone)")] = None,
    who: Annotated[list[str] | None, Query(alias="actor", max_length=64, description="key names")] = None,
    action: Annotated[list[Action] | None, Query(max_length=64, examples=["search"])] = None,
    after_id: Annotated[int, Query(ge=0, le=2**62, description="paging: rows after this id")] = 0,
    limit: Annotated[int | None, Query(ge=1, le=CHUNK, description="json: 100 if unset; jsonl: all")] = None,
    format: Annotated[AuditFormat | None, Query(description=f"jsonl, or send Accept: {NDJSON}")] = None,
) -> Response:
    """Rows of the audit trail, oldest first; every row committed before this request is included."""
    trail = runtime.audit.reader()
    await run_in_threadpool(runtime.audit.flush)
    last = await run_in_threadpool(trail.last_id)
    query = AuditQuery(
        since=utc_text(since) if since else None,
        until=utc_text(until) if until else None,
        actors=tuple(who or ()),
        actions=tuple(action or ()),
        after_id=after_id,
        through_id=last,  # this read's own row, recorded next, is never part of it
    )
    lines = format == AuditFormat.JSONL or (format is None and NDJSON in request.headers.get("accept", ""))
    asked: dict[str, Any] = {
        "since": query.since, "until": query.until, "actor": who,
        "action": [str(a) for a in action] if action else None,
        "after_id": after_id, "limit": limit, "format": "jsonl" if lines else "json",
    }  # fmt: skip
    runtime.audit.record(Action.AUDIT_READ, actor, {k: v for k, v in asked.items() if v is not None})
    if lines:
        return StreamingResponse(_lines(trail, query, limit), media_type=NDJSON)
    rows = await run_in_threadpool(trail.find, replace(query, limit=limit or 100))
    more = rows[-1].id if len(rows) == (limit or 100) else None
    page = AuditPage(rows=[audit_public(r) for r in rows], count=len(rows), next_after_id=more)
    return Response(page.model_dump_json(), media_type="application/json")
