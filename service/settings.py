"""The one Settings object: environment (PERSON_SEARCH_*, nested with __) and CLI flags feed it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cameras.gstreamer import Codec
from cameras.sources import Decoder
from engine.encoder import Backend, Precision
from service.privacy_settings import ErasureSettings, RetentionSettings


def _split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string for list settings given in the environment."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [part.strip() for part in text.split(",") if part.strip()]


class ModelSettings(BaseModel):
    """Which bundle to serve and on what runtime."""

    bundle: Path | None = Field(default=None, description="model bundle directory")
    backend: Backend = Backend.AUTO
    precision: Precision = Precision.FP32
    device: str | None = Field(default=None, description="e.g. cpu, cuda, cuda:0; None picks the best")
    threads: int | None = Field(
        default=None, ge=1, description="CPU threads for inference; None: all available"
    )


class IndexSettings(BaseModel):
    """Where the gallery lives and how it is indexed."""

    data_dir: Path | None = Field(
        default=None, description="gallery directory (SQLite record, crops, index); an edge must name one"
    )
    factory: str | None = Field(
        default=None, description="FAISS index factory string; None: what the gallery last used, else Flat"
    )
    near_duplicate_cosine: float | None = Field(default=None, ge=-1.0, le=1.0)
    hnsw_ef_search: int = Field(default=64, ge=1, le=32_768, description="HNSW factories: search beam width")
    hnsw_filtered_ef_max: int = Field(
        default=4096, ge=1, le=65_536, description="HNSW: the widest beam a filtered search widens to"
    )
    ivf_nprobe: int | None = Field(
        default=None, ge=1, le=65_536, description="IVF factories: lists probed; None: 1/8 of them, >= 16"
    )
    use_gpu: bool = Field(default=True, description="keep a FAISS GPU copy of Flat indexes where a GPU is")
    gpu_temp_memory_mb: int = Field(
        default=256, ge=0, le=65_536, description="use_gpu: scratch memory FAISS reserves on the GPU"
    )
    backend: Literal["faiss", "milvus"] = Field(
        default="faiss", description="what serves search: FAISS in memory, or a Milvus collection"
    )
    milvus_uri: str | None = Field(
        default=None,
        description="backend=milvus: http://host:19530, or a Milvus Lite file; None: data_dir/milvus.db",
    )
    milvus_token: SecretStr | None = Field(default=None, description="user:password or an API key")
    milvus_collection: str | None = Field(default=None, description="None: gallery_<model_id>")


class FleetSettings(BaseModel):
    """Replication of this edge's gallery into the fleet's Milvus, and where a hub finds that Milvus."""

    site_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="this site's id in the fleet; None: no replication",
    )
    uri: str | None = Field(default=None, description="the fleet's Milvus: http://host:19530 or a Lite file")
    token: SecretStr | None = Field(default=None, description="Milvus user:password or API key")
    public_url: str | None = Field(
        default=None, description="this site's base URL as fleet users reach it; image links start with it"
    )
    batch_size: int = Field(default=256, ge=1, le=10_000, description="outbox rows per Milvus call")
    poll_s: float = Field(default=1.0, gt=0, le=60, description="outbox check interval when idle")
    max_backoff_s: float = Field(default=30.0, gt=0, le=3600, description="longest wait between retries")
    hub_timeout_s: float = Field(default=10.0, gt=0, le=300, description="per Milvus call")
    hub_refresh_s: float = Field(
        default=5.0, gt=0, le=3600, description="hub: how often /health's fleet row count is refreshed"
    )
    index_type: Literal["FLAT", "HNSW"] = Field(
        default="FLAT", description="hub: the central collection's vector index (HNSW for millions of rows)"
    )
    ef_search: int = Field(default=128, ge=1, le=32_768, description="hub: HNSW search beam width")


class CameraSettings(BaseModel):
    """Cameras the service reads itself: the person detector, tracking and crop selection."""

    detector: Path | None = Field(
        default=None, description="person detector directory (detector.json + .onnx); None: no cameras"
    )
    detector_backend: Backend = Backend.AUTO
    detector_precision: Precision = Precision.FP32
    detector_threads: int = Field(
        default=1, ge=1, le=64, description="CPU threads for the detector: keep cores free for search"
    )
    detector_batch: int = Field(default=4, ge=1, le=64, description="frames per detector call")
    fps: float = Field(default=10.0, gt=0, le=60, description="frames per second read from each camera")
    decoder: Decoder = Field(
        default=Decoder.PYAV,
        description="pyav (FFmpeg), or gstreamer: a Jetson's nvv4l2decoder (rtsp and files; unverified)",
    )
    gstreamer_codec: Codec = Field(default=Codec.H264, description="the cameras' codec, for gstreamer")
    crops_per_track: int = Field(default=3, ge=1, le=16, description="crops stored per person track")
    lost_s: float = Field(default=2.0, gt=0, le=60, description="a track unseen this long has ended")
    min_frames: int = Field(default=3, ge=1, le=1000, description="shorter tracks are noise")
    activation_score: float = Field(default=0.6, ge=0, le=1, description="score that starts a track")
    frame_jpeg_width: int = Field(default=640, ge=64, le=4096, description="evidence frames' width")
    max_backoff_s: float = Field(default=30.0, gt=0, le=3600, description="longest wait to reconnect")
    max_cameras: int = Field(default=16, ge=0, le=256)


def _http_url(url: str) -> str:
    """A webhook URL: http or https with a host."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"a webhook URL is http:// or https:// with a host, not {url!r}")
    return url


class MqttSettings(BaseModel):
    """The MQTT broker alerts are published to and Frigate's events are read from (Home Assistant's)."""

    host: str | None = Field(default=None, description="broker host; None: no MQTT")
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    client_id: str = Field(default="person-search", min_length=1, max_length=64)


class AlertSettings(BaseModel):
    """Watchlists, their calibrated thresholds and where alerts are delivered."""

    enabled: bool = Field(default=True, description="score new crops against watchlists")
    default_sensitivity: float = Field(
        default=0.35, ge=0, le=1, description="a watchlist's sensitivity when its request names none"
    )
    min_score: float = Field(
        default=0.1,
        ge=-1,
        le=1,
        description="the cosine floor every alert must beat, whatever the background",
    )
    background_size: int = Field(default=2000, ge=10, le=100_000, description="recent crops thresholds use")
    min_background: int = Field(
        default=50, ge=1, le=100_000, description="below this many crops the floor alone decides"
    )
    refresh_every: int = Field(default=200, ge=1, description="new crops between background refreshes")
    max_watchlists: int = Field(default=1000, ge=1, le=100_000)
    public_url: str | None = Field(
        default=None, description="this service's base URL as receivers reach it (image and frame links)"
    )
    webhook_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="every alert is POSTed to each of these"
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key signing every webhook; needed for any webhook"
    )
    timeout_s: float = Field(default=5.0, gt=0, le=120, description="per webhook POST or MQTT publish")
    max_backoff_s: float = Field(default=30.0, gt=0, le=3600, description="longest wait between retries")
    mqtt_topic_prefix: str = Field(
        default="person_search",
        pattern=r"^[A-Za-z0-9_/-]{1,64}$",
        description="alerts go to <prefix>/alerts/<watchlist>",
    )
    mqtt: bool = Field(default=True, description="publish alerts to the MQTT broker when one is configured")
    stream_keepalive_s: float = Field(default=15.0, gt=0, le=300, description="SSE keep-alive comment period")
    stream_max_s: float = Field(
        default=300.0, gt=0, le=86_400, description="an SSE stream ends after this; EventSource resumes it"
    )

    _split = field_validator("webhook_urls", mode="before")(_split_list)

    @field_validator("webhook_urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        return [_http_url(u) for u in urls]

    @model_validator(mode="after")
    def _signed(self) -> AlertSettings:
        """Webhooks are always signed."""
        if self.webhook_urls and self.webhook_secret is None:
            raise ValueError(
                "alerts.webhook_secret: set PERSON_SEARCH_ALERTS__WEBHOOK_SECRET to sign webhooks"
            )
        return self


class FrigateSettings(BaseModel):
    """Frigate's person events (MQTT) as crops in the gallery; off by default."""

    enabled: bool = False
    url: str | None = Field(default=None, description="Frigate's HTTP API base, e.g. http://frigate:5000")
    topic_prefix: str = Field(default="frigate", pattern=r"^[A-Za-z0-9_/-]{1,64}$")
    labels: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["person"])
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="per snapshot fetch")
    attempts: int = Field(default=3, ge=1, le=20, description="snapshot fetches per event before giving up")

    _split = field_validator("labels", mode="before")(_split_list)

    @model_validator(mode="after")
    def _complete(self) -> FrigateSettings:
        if self.enabled and self.url is None:
            raise ValueError("frigate.url: set PERSON_SEARCH_FRIGATE__URL to Frigate's HTTP API")
        if self.url is not None:
            _http_url(self.url)
        return self


class TowerBatching(BaseModel):
    """Cross-request micro-batching for one tower."""

    max_batch: int = Field(default=16, ge=1, le=1024)
    max_wait_ms: float = Field(default=2.0, ge=0.0, le=1000.0)
    queue_size: int = Field(default=256, ge=1)
    workers: int = Field(
        default=1, ge=1, le=64, description="batches run at once (CPU: cores / threads each)"
    )


class BatchingSettings(BaseModel):
    """Micro-batching per tower, and the LRU cache of query embeddings."""

    text: TowerBatching = TowerBatching(max_batch=32, max_wait_ms=2.0)
    image: TowerBatching = TowerBatching(max_batch=16, max_wait_ms=5.0)
    query_cache_size: int = Field(default=1024, ge=0)


class LimitSettings(BaseModel):
    """What one request may ask for; beyond these the answer is a JSON 4xx naming the field or file."""

    max_file_bytes: int = Field(default=10 * 2**20, ge=1)
    max_request_bytes: int = Field(default=64 * 2**20, ge=1)
    max_json_bytes: int = Field(default=64 * 2**10, ge=1)
    max_files: int = Field(default=64, ge=1)
    max_pixels: int = Field(
        default=25_000_000, ge=1, description="width x height; guards decompression bombs"
    )
    min_side: int = Field(default=8, ge=1, description="smallest width or height accepted, in pixels")
    max_text_chars: int = Field(default=1000, ge=1, le=10_000)
    max_top_k: int = Field(default=100, ge=1, le=10_000)
    max_page: int = Field(default=500, ge=1, le=10_000, description="most items one GET /gallery returns")


class AuthSettings(BaseModel):
    """API keys (X-API-Key): named ones in a keys file, and unnamed keys here (read-1, write-1, admin-1, ...).

    With a keys file every scope needs a key; without one, a scope with no key of its own or above is open
    (no read keys: reads are open; the audit trail is open only while no key is set; see service.keys).
    """

    read_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    write_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    admin_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    keys_file: Path | None = Field(
        default=None, description="named keys with read, write or admin scope (person-search keys add)"
    )

    _split = field_validator("read_keys", "write_keys", "admin_keys", mode="before")(_split_list)


class AuditSettings(BaseModel):
    """The hash-chained audit trail of searches, views, exports and changes."""

    enabled: bool = Field(default=True, description="record the audit trail (needs a data dir or a file)")
    file: Path | None = Field(
        default=None, description="the trail's SQLite file; None: data_dir/audit.sqlite3"
    )
    queue_size: int = Field(
        default=10_000, ge=1, le=1_000_000, description="rows waiting for the writer; when full, 503"
    )
    linger_s: float = Field(
        default=0.05, ge=0, le=5, description="the writer waits this long for more rows to share a commit"
    )


class ServerSettings(BaseModel):
    """Network, CORS and logging."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "info"
    role: Literal["edge", "hub"] = Field(
        default="edge", description="edge: gallery and search on this box; hub: search over the fleet"
    )

    _split = field_validator("cors_origins", mode="before")(_split_list)


class Settings(BaseSettings):
    """Everything the service reads; PERSON_SEARCH_MODEL__BUNDLE=... sets settings.model.bundle."""

    model_config = SettingsConfigDict(
        env_prefix="PERSON_SEARCH_",
        env_nested_delimiter="__",
        extra="ignore",
        nested_model_default_partial_update=True,
        env_ignore_empty=True,  # compose passes unset optional settings as empty strings
    )

    model: ModelSettings = ModelSettings()
    index: IndexSettings = IndexSettings()
    batching: BatchingSettings = BatchingSettings()
    limits: LimitSettings = LimitSettings()
    auth: AuthSettings = AuthSettings()
    audit: AuditSettings = AuditSettings()
    server: ServerSettings = ServerSettings()
    fleet: FleetSettings = FleetSettings()
    cameras: CameraSettings = CameraSettings()
    alerts: AlertSettings = AlertSettings()
    mqtt: MqttSettings = MqttSettings()
    frigate: FrigateSettings = FrigateSettings()
    retention: RetentionSettings = RetentionSettings()
    erasure: ErasureSettings = ErasureSettings()

    @model_validator(mode="after")
    def _fleet_complete(self) -> Settings:
        """A replicating edge needs the fleet's URI and its own public URL; a hub needs the URI."""
        fleet, hub = self.fleet, self.server.role == "hub"
        if (hub or fleet.site_id) and not fleet.uri:
            raise ValueError(
                "fleet.uri: set PERSON_SEARCH_FLEET__URI to the fleet's Milvus (http://host:19530)"
            )
        if fleet.site_id and not hub and not fleet.public_url:
            raise ValueError(
                "fleet.public_url: set PERSON_SEARCH_FLEET__PUBLIC_URL to this site's base URL, "
                "so hub results can link to its images"
            )
        if self.frigate.enabled and self.mqtt.host is None:
            raise ValueError("mqtt.host: Frigate's events arrive by MQTT; set PERSON_SEARCH_MQTT__HOST")
        return self
