"""`person-search serve`: run the HTTP service with uvicorn; flags override PERSON_SEARCH_* settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.app import app
from cli.settings_flags import (
    BackendFlag,
    BundleFlag,
    DataDirFlag,
    DetectorFlag,
    DeviceFlag,
    FactoryFlag,
    IndexBackendFlag,
    MilvusUriFlag,
    PrecisionFlag,
    ThreadsFlag,
    require_bundle,
    require_data_dir,
    settings_from_flags,
)


@app.command()
def serve(
    bundle: BundleFlag = None,
    data_dir: DataDirFlag = None,
    backend: BackendFlag = None,
    precision: PrecisionFlag = None,
    device: DeviceFlag = None,
    threads: ThreadsFlag = None,
    factory: FactoryFlag = None,
    index_backend: IndexBackendFlag = None,
    milvus_uri: MilvusUriFlag = None,
    detector: DetectorFlag = None,
    role: Annotated[
        str | None, typer.Option(help="edge (gallery here) or hub (search the fleet) [server.role]")
    ] = None,
    site_id: Annotated[
        str | None, typer.Option(help="replicate to the fleet as this site [fleet.site_id]")
    ] = None,
    fleet_uri: Annotated[str | None, typer.Option(help="the fleet's Milvus URI [fleet.uri]")] = None,
    public_url: Annotated[
        str | None, typer.Option(help="this site's base URL for fleet image links [fleet.public_url]")
    ] = None,
    host: Annotated[str | None, typer.Option(help="[server.host]")] = None,
    port: Annotated[int | None, typer.Option(help="[server.port]")] = None,
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="allowed origin, repeatable [server.cors_origins]")
    ] = None,
    text_max_batch: Annotated[int | None, typer.Option(help="[batching.text.max_batch]")] = None,
    text_max_wait_ms: Annotated[float | None, typer.Option(help="[batching.text.max_wait_ms]")] = None,
    text_queue_size: Annotated[int | None, typer.Option(help="[batching.text.queue_size]")] = None,
    text_workers: Annotated[int | None, typer.Option(help="[batching.text.workers]")] = None,
    image_max_batch: Annotated[int | None, typer.Option(help="[batching.image.max_batch]")] = None,
    image_max_wait_ms: Annotated[float | None, typer.Option(help="[batching.image.max_wait_ms]")] = None,
    image_queue_size: Annotated[int | None, typer.Option(help="[batching.image.queue_size]")] = None,
    image_workers: Annotated[int | None, typer.Option(help="[batching.image.workers]")] = None,
    query_cache_size: Annotated[int | None, typer.Option(help="[batching.query_cache_size]")] = None,
    max_file_bytes: Annotated[int | None, typer.Option(help="[limits.max_file_bytes]")] = None,
    max_request_bytes: Annotated[int | None, typer.Option(help="[limits.max_request_bytes]")] = None,
    max_files: Annotated[int | None, typer.Option(help="[limits.max_files]")] = None,
    max_pixels: Annotated[int | None, typer.Option(help="[limits.max_pixels]")] = None,
    max_text_chars: Annotated[int | None, typer.Option(help="[limits.max_text_chars]")] = None,
    max_top_k: Annotated[int | None, typer.Option(help="[limits.max_top_k]")] = None,
    read_key: Annotated[
        list[str] | None, typer.Option(help="API key with read scope, repeatable [auth.read_keys]")
    ] = None,
    write_key: Annotated[
        list[str] | None, typer.Option(help="API key with write scope, repeatable [auth.write_keys]")
    ] = None,
    admin_key: Annotated[
        list[str] | None, typer.Option(help="API key with admin scope (GET /audit) [auth.admin_keys]")
    ] = None,
    keys_file: Annotated[
        Path | None,
        typer.Option(help="named keys (person-search keys add), re-read on change [auth.keys_file]"),
    ] = None,
    retention: Annotated[
        str | None, typer.Option(help="keep crops this long: 30d, 12h, keep [retention.default]")
    ] = None,
    camera_retention: Annotated[
        list[str] | None, typer.Option(help="one camera's period: gate-2=7d, repeatable [retention.cameras]")
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="[server.log_level]")] = None,
) -> None:
    """Serve search, gallery, health, latency, metrics and the web page over HTTP (a hub: search only)."""
    settings = settings_from_flags(dict(locals()))
    require_bundle(settings)
    if settings.server.role == "edge":
        require_data_dir(settings)
    import logging

    import uvicorn

    from service.app import create_app

    level = settings.server.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        log_level=settings.server.log_level,
        access_log=False,  # the service logs each request with its request id
        timeout_graceful_shutdown=5,  # open SSE streams would hold a shutdown back (EventSource resumes)
    )
