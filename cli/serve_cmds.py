"""`person-search serve`: run the HTTP service with uvicorn; flags override PERSON_SEARCH_* settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.app import app


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """tree['a']['b'] = value for 'a.b', skipping values not given on the command line."""
    if value is None or value == []:
        return
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


@app.command()
def serve(
    bundle: Annotated[Path | None, typer.Option(help="model bundle directory [model.bundle]")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="gallery directory [index.data_dir]")] = None,
    backend: Annotated[
        str | None, typer.Option(help="auto, tensorrt, onnxruntime or torch [model.backend]")
    ] = None,
    precision: Annotated[str | None, typer.Option(help="fp32, fp16 or int8 [model.precision]")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:0 [model.device]")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU inference threads [model.threads]")] = None,
    factory: Annotated[str | None, typer.Option(help="FAISS index factory [index.factory]")] = None,
    index_backend: Annotated[
        str | None, typer.Option(help="faiss or milvus: what serves search [index.backend]")
    ] = None,
    milvus_uri: Annotated[
        str | None, typer.Option(help="backend milvus: http://host:19530 or a Lite file [index.milvus_uri]")
    ] = None,
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
    log_level: Annotated[str | None, typer.Option(help="[server.log_level]")] = None,
) -> None:
    """Serve search, gallery, health, latency, metrics and the web page over HTTP (a hub: search only)."""
    import logging

    import uvicorn

    from service.app import create_app
    from service.settings import Settings

    given = dict(locals())
    overrides: dict[str, Any] = {}
    for flag, dotted in FLAG_SETTINGS.items():
        _set(overrides, dotted, given[flag])
    try:
        settings = Settings(**overrides)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    if settings.model.bundle is None or not (settings.model.bundle / "model.json").is_file():
        raise typer.BadParameter(
            f"{settings.model.bundle} is not a model bundle (no model.json)", param_hint="--bundle"
        )
    level = settings.server.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        log_level=settings.server.log_level,
        access_log=False,  # the service logs each request with its request id
    )


FLAG_SETTINGS = {
    "bundle": "model.bundle",
    "backend": "model.backend",
    "precision": "model.precision",
    "device": "model.device",
    "threads": "model.threads",
    "data_dir": "index.data_dir",
    "factory": "index.factory",
    "index_backend": "index.backend",
    "milvus_uri": "index.milvus_uri",
    "role": "server.role",
    "site_id": "fleet.site_id",
    "fleet_uri": "fleet.uri",
    "public_url": "fleet.public_url",
    "host": "server.host",
    "port": "server.port",
    "cors_origin": "server.cors_origins",
    "log_level": "server.log_level",
    "text_max_batch": "batching.text.max_batch",
    "text_max_wait_ms": "batching.text.max_wait_ms",
    "text_queue_size": "batching.text.queue_size",
    "text_workers": "batching.text.workers",
    "image_max_batch": "batching.image.max_batch",
    "image_max_wait_ms": "batching.image.max_wait_ms",
    "image_queue_size": "batching.image.queue_size",
    "image_workers": "batching.image.workers",
    "query_cache_size": "batching.query_cache_size",
    "max_file_bytes": "limits.max_file_bytes",
    "max_request_bytes": "limits.max_request_bytes",
    "max_files": "limits.max_files",
    "max_pixels": "limits.max_pixels",
    "max_text_chars": "limits.max_text_chars",
    "max_top_k": "limits.max_top_k",
    "read_key": "auth.read_keys",
    "write_key": "auth.write_keys",
}
