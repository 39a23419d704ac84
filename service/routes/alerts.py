"""Alerts: the history (filtered, paged), acknowledging one, and a live Server-Sent Events stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from alerts import AlertEngine, AlertQuery
from alerts.payload import alert_payload
from service.alert_schemas import AlertPage, AlertPublic
from service.alert_views import alert_public
from service.deps import ReadAccess, RuntimeDep, WriteAccess
from service.errors import ApiError

router = APIRouter(prefix="/alerts", tags=["alerts"])
AlertId = Annotated[int, Path(ge=1, le=2**62, description="alert id")]
RETRY_MS = 2000  # how soon an EventSource reconnects after a stream ends


async def get_engine(runtime: RuntimeDep) -> AlertEngine:
    """The alert engine once ready (503 before, or when alerts are off), checked before a stream opens."""
    return runtime.alert_engine()


EngineDep = Annotated[AlertEngine, Depends(get_engine)]


@router.get("", response_model=AlertPage, dependencies=[ReadAccess])
async def list_alerts(
    engine: EngineDep,
    watchlist_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    since: Annotated[datetime | None, Query(description="raised at or after")] = None,
    until: Annotated[datetime | None, Query(description="raised at or before")] = None,
    acked: Annotated[
        bool | None, Query(description="only acknowledged (true) or open (false) alerts")
    ] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62, description="paging: older than this id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AlertPage:
    """The alert history, newest first."""
    query = AlertQuery(watchlist_id, since, until, acked, before_id, limit)
    found = await run_in_threadpool(engine.store.find, query)
    alerts = [alert_public(a) for a in found]
    last = found[-1].id if len(found) == limit else None
    return AlertPage(alerts=alerts, count=len(alerts), next_before_id=last)


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    dependencies=[ReadAccess],
    responses={200: {"content": {"text/event-stream": {}}, "description": "one `alert` event per alert"}},
)
async def stream_alerts(
    request: Request,
    runtime: RuntimeDep,
    engine: EngineDep,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=2**62)] = None,
    after: Annotated[int | None, Query(ge=0, le=2**62, description="like Last-Event-ID, for curl")] = None,
) -> AsyncIterator[ServerSentEvent]:
    """New alerts as they are raised (event `alert`, data: the alert's JSON, id: its id); a client that
    reconnects with Last-Event-ID first gets what it missed. Comments keep idle connections open; the
    stream ends after alerts.stream_max_s and EventSource reconnects where it left off."""
    settings = runtime.settings.alerts
    since = last_event_id if last_event_id is not None else after
    if since is None:
        since = await run_in_threadpool(engine.store.last_id)
    ends = time.monotonic() + settings.stream_max_s
    with runtime.feed.subscribe() as arrived:
        yield ServerSentEvent(comment="alerts", retry=RETRY_MS)
        while time.monotonic() < ends:
            arrived.clear()
            missed = await run_in_threadpool(engine.store.after, since, 100)
            for alert in missed:
                yield ServerSentEvent(data=alert_payload(alert), id=str(alert.id), event="alert")
                since = alert.id
            if missed:
                continue
            if await request.is_disconnected():
                return
            try:
                await asyncio.wait_for(
                    arrived.wait(), min(settings.stream_keepalive_s, ends - time.monotonic())
                )
            except TimeoutError:
                yield ServerSentEvent(comment="keep-alive")


@router.post("/{alert_id}/ack", response_model=AlertPublic, dependencies=[WriteAccess])
async def ack_alert(engine: EngineDep, alert_id: AlertId) -> AlertPublic:
    """Acknowledge an alert (someone has seen it); acknowledging twice keeps the first time."""
    found = await run_in_threadpool(engine.store.ack, alert_id)
    if found is None:
        raise ApiError(404, f"no alert {alert_id}", field="alert_id")
    return alert_public(found)
