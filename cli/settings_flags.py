"""Command-line flags that override PERSON_SEARCH_* settings: every command builds the same Settings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from service.settings import Settings

BundleFlag = Annotated[
    Path | None, typer.Option("--bundle", "--model", help="model bundle directory [model.bundle]")
]
DataDirFlag = Annotated[
    Path | None, typer.Option("--data-dir", "--data", help="gallery directory [index.data_dir]")
]
BackendFlag = Annotated[str | None, typer.Option(help="auto, tensorrt, onnxruntime or torch [model.backend]")]
PrecisionFlag = Annotated[str | None, typer.Option(help="fp32, fp16 or int8 [model.precision]")]
DeviceFlag = Annotated[str | None, typer.Option(help="cpu, cuda, cuda:0 [model.device]")]
ThreadsFlag = Annotated[int | None, typer.Option(help="CPU inference threads [model.threads]")]
FactoryFlag = Annotated[
    str | None,
    typer.Option(help="FAISS index factory; default: what the gallery uses, else Flat [index.factory]"),
]
IndexBackendFlag = Annotated[
    str | None, typer.Option(help="faiss or milvus: what serves search [index.backend]")
]
MilvusUriFlag = Annotated[
    str | None, typer.Option(help="backend milvus: http://host:19530 or a Lite file [index.milvus_uri]")
]
DetectorFlag = Annotated[
    Path | None, typer.Option(help="person detector directory (detector.json + .onnx) [cameras.detector]")
]
DetectorThreadsFlag = Annotated[
    int | None, typer.Option(help="CPU threads for the detector [cameras.detector_threads]")
]
FpsFlag = Annotated[float | None, typer.Option(help="frames per second read from a video [cameras.fps]")]
CropsPerTrackFlag = Annotated[
    int | None, typer.Option(help="crops stored per person track [cameras.crops_per_track]")
]

# flag (the parameter name) -> the setting it overrides
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
    "detector": "cameras.detector",
    "detector_threads": "cameras.detector_threads",
    "fps": "cameras.fps",
    "crops_per_track": "cameras.crops_per_track",
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
    "admin_key": "auth.admin_keys",
    "keys_file": "auth.keys_file",
    "retention": "retention.default",
    "camera_retention": "retention.cameras",
}


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """tree['a']['b'] = value for 'a.b', skipping values not given on the command line."""
    if value is None or value == []:
        return
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def settings_from_flags(given: Mapping[str, Any]) -> Settings:
    """Settings from the environment with the given flags on top; a bad value is a usage error."""
    overrides: dict[str, Any] = {}
    for flag, value in given.items():
        if flag in FLAG_SETTINGS:
            _set(overrides, FLAG_SETTINGS[flag], value)
    try:
        return Settings(**overrides)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


def require_bundle(settings: Settings) -> Path:
    """The configured bundle directory, or a usage error naming the flag and the variable."""
    bundle = settings.model.bundle
    if bundle is None or not (bundle / "model.json").is_file():
        raise typer.BadParameter(
            f"{bundle} is not a model bundle (no model.json); set --bundle or PERSON_SEARCH_MODEL__BUNDLE",
            param_hint="--bundle",
        )
    return bundle


def require_data_dir(settings: Settings) -> Path:
    """The configured gallery directory: a command never makes one in the working directory unasked."""
    if settings.index.data_dir is None:
        raise typer.BadParameter(
            "name the gallery directory with --data-dir or PERSON_SEARCH_INDEX__DATA_DIR",
            param_hint="--data-dir",
        )
    return settings.index.data_dir
