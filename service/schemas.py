"""Request and response models of the HTTP API (the contract users script against)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MetaValue = str | int | float | bool
# Hard caps; the configured limits (LimitSettings, at most these) are checked per request and published
# in /openapi.json.
TEXT_CAP, TOP_K_CAP, PAGE_CAP = 10_000, 10_000, 10_000

EXAMPLE_ITEM: dict[str, Any] = {
    "id": 42,
    "sha256": "9f2c0c1e5b7d4a0e8f3a6b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4",
    "image_url": "/gallery/42/image",
    "camera": "gate-2",
    "captured_at": "2024-05-01T08:30:00Z",
    "external_id": "track-1187",
    "metadata": {"zone": "north"},
    "model_id": "fcc6f3f6ee6569fe",
    "created_at": "2024-05-01T08:30:02Z",
}


class SearchFiltersIn(BaseModel):
    """Restrict a search to cameras, a capture-time window, or metadata values."""

    model_config = ConfigDict(extra="forbid")

    cameras: list[str] | None = Field(default=None, max_length=64, examples=[["gate-2", "lobby"]])
    captured_from: datetime | None = Field(default=None, examples=["2024-05-01T00:00:00Z"])
    captured_to: datetime | None = Field(default=None, examples=["2024-05-02T00:00:00Z"])
    metadata: dict[str, MetaValue] = Field(default_factory=dict, max_length=16, examples=[{"zone": "north"}])
    sites: list[str] | None = Field(
        default=None,
        max_length=256,
        description="fleet hub only: keep only these sites",
        examples=[["store-12"]],
    )


class LikeIn(BaseModel):
    """Search by example: a stored crop, or a whole person track (the mean of its crops)."""

    model_config = ConfigDict(extra="forbid")

    item_id: int | None = Field(default=None, ge=1, le=2**62, description="a gallery item")
    track_id: int | None = Field(default=None, ge=1, le=2**62, description="a person track")

    @model_validator(mode="after")
    def _one(self) -> LikeIn:
        """Exactly one example."""
        if (self.item_id is None) == (self.track_id is None):
            raise ValueError("give exactly one of item_id and track_id")
        return self


class SearchRequest(BaseModel):
    """A description of a person, an example (a stored crop or track, or an uploaded image), or both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "a woman in a red jacket, black cap and brown shoes", "top_k": 10},
                {
                    "text": "man with a blue backpack",
                    "top_k": 5,
                    "filters": {"cameras": ["gate-2"]},
                    "min_score": 0.2,
                },
            ]
        },
    )

    text: str | None = Field(
        default=None, min_length=1, max_length=TEXT_CAP, description="the description to search for"
    )
    like: LikeIn | None = Field(default=None, description="search by example (image to image)")
    text_weight: float = Field(
        default=0.5, ge=0.0, le=1.0, description="with a description and an example: the description's share"
    )
    top_k: int = Field(default=10, ge=1, le=TOP_K_CAP, description="how many matches (or tracks) to return")
    filters: SearchFiltersIn | None = None
    min_score: float | None = Field(
        default=None, ge=-1.0, le=1.0, description="drop matches below this cosine"
    )
    group_by: Literal["track"] | None = Field(
        default=None, description="track: one result per person track (its best crop), not per crop"
    )
    order: Literal["score", "time"] = Field(
        default="score", description="time: the results in time order, to follow a person camera by camera"
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        """A description needs at least one non-space character."""
        if value is not None and not value.strip():
            raise ValueError("text is blank")
        return value


class TrackPublic(BaseModel):
    """A person followed on one camera: the gallery's track id and when it was first and last seen."""

    id: int
    first_seen: datetime
    last_seen: datetime


class GalleryItemPublic(BaseModel):
    """One stored person crop as the API shows it."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_ITEM]})

    id: int = Field(description="the item's id on its site")
    sha256: str
    image_url: str = Field(description="relative on a site; absolute, on the item's site, from a fleet hub")
    site: str | None = Field(default=None, description="the site holding the item (fleet hub results)")
    camera: str | None = None
    captured_at: datetime | None = None
    external_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    model_id: str
    created_at: datetime
    track: TrackPublic | None = Field(default=None, description="the person track this crop belongs to")
    box: list[float] | None = Field(
        default=None, description="x1, y1, x2, y2 of the crop in its evidence frame (camera crops)"
    )
    quality: float | None = Field(default=None, description="the camera pipeline's crop quality, 0..1")
    frame_url: str | None = Field(
        default=None, description="the whole frame the crop came from, with its box drawn (camera crops)"
    )


class CameraIn(BaseModel):
    """A network camera to read: RTSP/RTSPS or HTTP(S) (MJPEG, HLS); no files or local paths."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="also the crops' camera")
    url: str = Field(max_length=2048, description="rtsp://, rtsps://, http:// or https://")
    fps: float | None = Field(default=None, gt=0, le=60, description="frames per second to read")
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _network_only(cls, url: str) -> str:
        """Only network streams through the API: a file:// URL or a path would read the server's disk."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in {"rtsp", "rtsps", "http", "https"} or not parts.hostname:
            raise ValueError("must be an rtsp, rtsps, http or https URL with a host (no files or paths)")
        return url


class CameraPublic(BaseModel):
    """A camera and how its stream is going."""

    name: str
    url: str
    fps: float
    enabled: bool
    running: bool = Field(description="its reader thread is alive")
    connected: bool = Field(description="frames are arriving")
    fps_in: float = Field(description="frames per second read, recent")
    fps_out: float = Field(description="frames per second through detection and tracking, recent")
    frames: int
    open_tracks: int
    tracks: int = Field(description="person tracks finished and stored")
    crops: int
    reconnects: int
    last_error: str | None


class CameraRemoved(BaseModel):
    """A camera that is no longer read."""

    name: str
    removed: bool


class ExportRequest(BaseModel):
    """What to export: a search's results, chosen tracks, or chosen crops (exactly one)."""

    model_config = ConfigDict(extra="forbid")

    search: SearchRequest | None = None
    tracks: list[int] | None = Field(default=None, min_length=1, max_length=100)
    items: list[int] | None = Field(default=None, min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one(self) -> ExportRequest:
        """Exactly one of search, tracks and items."""
        if sum(x is not None for x in (self.search, self.tracks, self.items)) != 1:
            raise ValueError("give exactly one of search, tracks and items")
        return self


class TrackDetail(BaseModel):
    """One person track: where and when, and its crops in time order."""

    id: int
    camera: str | None
    first_seen: datetime
    last_seen: datetime
    items: list[GalleryItemPublic]


class SearchMatch(BaseModel):
    """One ranked result: a crop, or with group_by=track a person track shown by its best crop."""

    rank: int = Field(description="1-based, by score (also when the results are in time order)")
    score: float = Field(description="cosine similarity between the query and the crop")
    item: GalleryItemPublic
    crops: int | None = Field(default=None, description="group_by=track: crops stored for this track")


class SearchResults(BaseModel):
    """Ranked matches for a description, with the time each stage took."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "a woman in a red jacket",
                    "top_k": 1,
                    "count": 1,
                    "matches": [{"rank": 1, "score": 0.31, "item": EXAMPLE_ITEM}],
                    "cached": False,
                    "model_id": "fcc6f3f6ee6569fe",
                    "gallery_size": 1200,
                    "timings_ms": {
                        "preprocess": 0.1,
                        "encode": 1.2,
                        "queue": 0.1,
                        "search": 0.2,
                        "total": 1.7,
                    },
                }
            ]
        }
    )

    query: str | None = Field(description="the description, if any")
    example: dict[str, Any] | None = Field(
        default=None, description="the example searched with: item_id, track_id or the image's sha256"
    )
    group_by: Literal["track"] | None = None
    top_k: int
    count: int
    matches: list[SearchMatch]
    cached: bool = Field(description="the query embedding came from the LRU cache")
    model_id: str
    gallery_size: int = Field(description="items searched: the gallery, or the fleet's central collection")
    timings_ms: dict[str, float] = Field(description="preprocess (tokenize), encode, queue, search, total")


class FileError(BaseModel):
    """Why one uploaded file was refused."""

    status: int
    code: str
    message: str


class UploadOutcome(BaseModel):
    """What happened to one uploaded file."""

    index: int = Field(description="0-based position of the file in the request")
    filename: str
    status: Literal["added", "duplicate", "error"]
    id: int | None = None
    sha256: str | None = None
    near_duplicate_of: int | None = None
    error: FileError | None = None


class UploadResults(BaseModel):
    """Per-file outcomes of an upload: a broken file never loses the good ones."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "added": 1,
                    "duplicates": 1,
                    "failed": 1,
                    "items": [
                        {"index": 0, "filename": "a.jpg", "status": "added", "id": 43, "sha256": "ab12..."},
                        {
                            "index": 1,
                            "filename": "b.jpg",
                            "status": "duplicate",
                            "id": 42,
                            "sha256": "cd34...",
                        },
                        {
                            "index": 2,
                            "filename": "notes.txt",
                            "status": "error",
                            "error": {
                                "status": 415,
                                "code": "unsupported_media_type",
                                "message": "notes.txt: ...",
                            },
                        },
                    ],
                    "timings_ms": {
                        "decode": 2.1,
                        "preprocess": 0.4,
                        "encode": 3.0,
                        "index": 1.1,
                        "total": 7.2,
                    },
                }
            ]
        }
    )

    added: int
    duplicates: int
    failed: int
    items: list[UploadOutcome]
    timings_ms: dict[str, float]


class GalleryPage(BaseModel):
    """A page of gallery items in id order (oldest first), with the cameras seen."""

    items: list[GalleryItemPublic]
    offset: int
    limit: int
    total: int = Field(description="items in the whole gallery")
    cameras: list[str]


class Deleted(BaseModel):
    """The outcome of a delete."""

    id: int
    deleted: bool


class Health(BaseModel):
    """Liveness and readiness, and what is serving: a fall back to a slower backend shows here."""

    status: Literal["ok", "starting", "error"]
    ready: bool
    role: Literal["edge", "hub"]
    warmup_done: bool
    model_id: str | None
    backend: str | None
    precision: str | None
    device: str | None
    arch: str | None
    embed_dim: int | None
    requested_backend: str = Field(description="what the settings asked for; `auto` picks the best available")
    encoder: dict[str, Any] = Field(
        description="everything the encoder reports (providers, threads, plan...)"
    )
    gallery_size: int | None
    index_factory: str | None
    index_backend: Literal["faiss", "milvus"]
    fleet: dict[str, Any] | None = Field(
        default=None, description="edge with a site id: replication backlog (pending, oldest_age_s, ...)"
    )
    milvus: dict[str, Any] | None = Field(
        default=None,
        description="hub: the fleet's Milvus from a background probe (uri, reachable, collection, count, "
        "count_age_s, stale, refresh_timed_out, error)",
    )
    cameras: list[CameraPublic] = Field(default_factory=list, description="edge: the cameras it reads")
    detector: dict[str, Any] | None = Field(
        default=None, description="edge: the person detector (backend, input size...) or why there is none"
    )
    alerts: dict[str, Any] | None = Field(
        default=None, description="edge: watchlists, alerts, crops scored, and each delivery sink's backlog"
    )
    frigate: dict[str, Any] | None = Field(default=None, description="the Frigate connector, when on")
    audit: dict[str, Any] | None = Field(
        default=None, description="the audit trail: enabled, file, backlog, rows written, last write error"
    )
    retention: dict[str, Any] | None = Field(
        default=None,
        description="edge: the retention policy, the oldest item's age, the next purge, the last purge's "
        "counts, and the legal holds in force",
    )
    uptime_s: float
    startup_s: float | None = Field(description="seconds from start to ready")
    error: str | None = None


class ErrorDetail(BaseModel):
    """The stable error shape."""

    status: int
    code: str
    message: str
    field: str | None = None
    file: str | None = None
    details: list[Any] | None = None
    request_id: str


class ErrorBody(BaseModel):
    """Every non-2xx answer has this body."""

    error: ErrorDetail
