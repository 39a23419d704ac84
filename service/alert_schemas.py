"""Request and response models of the watchlist and alert endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from index.metadata import check_text
from service.settings import _http_url

NAME_PATTERN = r"^[^\x00-\x1f\x7f]{1,128}$"


class WatchlistIn(BaseModel):
    """A standing query: a description (`text`) or a gallery item (`item_id`); multipart takes an `image`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "red jacket",
                    "text": "a woman in a red jacket and black trousers",
                    "sensitivity": 0.5,
                },
                {"name": "this man", "item_id": 42, "cameras": ["gate-2"]},
            ]
        },
    )

    name: str = Field(pattern=NAME_PATTERN, description="what alerts call it")
    text: str | None = Field(default=None, min_length=1, max_length=10_000, description="a description")
    item_id: int | None = Field(
        default=None, ge=1, le=2**62, description="watch for this gallery item's person"
    )
    cameras: list[str] | None = Field(
        default=None, max_length=64, description="only these cameras; None: all"
    )
    sensitivity: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="0..1, higher alerts on more crops; None: the configured default",
    )
    webhook_url: str | None = Field(default=None, max_length=2048, description="also POST its alerts here")

    @field_validator("name", "text", "webhook_url")
    @classmethod
    def _unicode(cls, value: str | None) -> str | None:
        """Text SQLite can store (no lone surrogates)."""
        if value is not None:
            check_text("value", value)
        return value

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("text is blank")
        return value

    @field_validator("cameras")
    @classmethod
    def _camera_names(cls, cameras: list[str] | None) -> list[str] | None:
        if cameras is not None and any(not 0 < len(c) <= 128 for c in cameras):
            raise ValueError("a camera name is 1 to 128 characters")
        for camera in cameras or ():
            check_text("camera", camera)
        return cameras

    @field_validator("webhook_url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        return _http_url(url) if url is not None else None


class WatchlistPublic(BaseModel):
    """A stored watchlist (its embedding stays on the server)."""

    id: int
    name: str
    kind: Literal["text", "image", "item"]
    text: str | None
    item_id: int | None
    cameras: list[str] | None
    sensitivity: float
    q: float = Field(description="the share of the background a crop must outscore all but")
    webhook_url: str | None
    created_at: datetime
    stale: bool = Field(description="embedded by another model than the one serving (re-embedded at start)")


class WatchlistDeleted(BaseModel):
    """The outcome of a delete."""

    id: int
    deleted: bool


class AlertPublic(BaseModel):
    """One alert: which watchlist fired on which crop, when, and how strongly."""

    id: int = Field(description="also the SSE event id")
    uid: str = Field(description="idempotency key: the same on every delivery of this alert")
    watchlist_id: int
    watchlist: str
    item_id: int
    track_id: int | None
    camera: str | None
    time: datetime | None = Field(description="the crop's frame time")
    score: float = Field(description="cosine between the watchlist's query and the crop")
    calibrated: float | None = Field(description="share of the background sample the crop outscored")
    threshold: float = Field(description="the cosine the crop had to beat")
    image_url: str
    frame_url: str | None
    created_at: datetime
    acked: bool
    acked_at: datetime | None = None


class AlertPage(BaseModel):
    """A page of the alert history, newest first; pass `next_before_id` as `before_id` for the next."""

    alerts: list[AlertPublic]
    count: int
    next_before_id: int | None
