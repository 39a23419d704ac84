"""Operations: health (liveness and readiness), rolling latency, Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from service.deps import RuntimeDep
from service.schemas import Health

router = APIRouter(tags=["operations"])


@router.get(
    "/health", response_model=Health, responses={503: {"model": Health, "description": "not ready yet"}}
)
async def health(runtime: RuntimeDep) -> JSONResponse:
    """Readiness and what is serving (model, backend, precision, device, gallery size); 503 until ready."""
    body = Health(**await asyncio.to_thread(runtime.health))  # off the loop: it reads SQLite
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if body.ready else 503)


@router.get("/health/live")
async def live() -> dict[str, bool]:
    """Liveness only: the process answers."""
    return {"live": True}


@router.get(
    "/latency",
)
async def latency(runtime: RuntimeDep) -> dict[str, Any]:
    """Rolling p50/p90/p99/max and counts per stage, for search and for ingest."""
    return {"window": runtime.latency.window, "pipelines": runtime.latency.summary()}


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text format: stage histograms, queue depth, gallery size, requests."""
    text = await asyncio.to_thread(runtime.metrics.render)  # off the loop: gauges may read SQLite
    return Response(text, media_type=CONTENT_TYPE_LATEST)
