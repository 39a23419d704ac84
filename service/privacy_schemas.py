"""Request and response models of legal holds and erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

Id = Annotated[int, Field(ge=1, le=2**62)]


class HoldIn(BaseModel):
    """Keep items, or every crop of tracks, past retention and away from erasure, for a stated reason."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"tracks": [7], "items": [42], "reason": "case 2024-118, theft"}]},
    )

    items: list[Id] = Field(default_factory=list, max_length=10_000)
    tracks: list[Id] = Field(default_factory=list, max_length=1_000)
    reason: str = Field(min_length=1, max_length=1000, description="why: the investigation it serves")

    @model_validator(mode="after")
    def _something(self) -> HoldIn:
        """A hold holds at least one item or track, and says why in more than blanks."""
        if not self.items and not self.tracks:
            raise ValueError("give items or tracks to hold")
        if not self.reason.strip():
            raise ValueError("reason is blank")
        return self


class HoldPublic(BaseModel):
    """One legal hold."""

    id: int
    reason: str
    held_by: str = Field(description="the name of the API key that placed it, or 'anonymous'")
    created_at: datetime
    items: list[int]
    tracks: list[int]
    active: bool
    released_at: datetime | None = None
    released_by: str | None = None


class HoldList(BaseModel):
    """Holds, newest first, and how many stored items the active ones cover."""

    holds: list[HoldPublic]
    held_items: int


class LikeItemIn(BaseModel):
    """An example that is a stored crop."""

    model_config = ConfigDict(extra="forbid")

    item_id: Id


class ErasureRequest(BaseModel):
    """What to erase: items, every crop of tracks, everyone like an example at min_score or above
    (`like` a stored crop, or an uploaded `image` in multipart), or several of these."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"like": {"item_id": 42}, "min_score": 0.8}, {"items": [42, 43], "tracks": [7]}]
        },
    )

    items: list[Id] = Field(default_factory=list, max_length=10_000)
    tracks: list[Id] = Field(default_factory=list, max_length=1_000)
    like: LikeItemIn | None = None
    min_score: float | None = Field(default=None, ge=-1.0, le=1.0, description="with an example")


class ErasureItem(BaseModel):
    """One item an erasure would remove."""

    id: int
    sha256: str
    score: float | None = Field(description="cosine to the example; None when chosen by id or track")
    camera: str | None
    captured_at: datetime | None
    track_id: int | None
    held: bool = Field(description="a legal hold covers it: the erasure is refused until it is released")


class ErasurePreview(BaseModel):
    """What POST /erasures with this token would remove; nothing is removed yet."""

    token: str | None = Field(description="pass to POST /erasures; None when nothing matches")
    digest: str = Field(description="sha256 over 'id:sha256' lines of the set, in id order")
    expires_at: datetime | None
    count: int
    items: list[ErasureItem]
    held: list[int] = Field(description="items on legal hold: the erasure is refused while there are any")
    holds: list[int] = Field(description="the holds covering them (release with DELETE /holds/{id})")
    watchlists: list[int] = Field(
        description="watchlists made from these items; they keep their own copy of the picture and are "
        "not erased with them (DELETE /watchlists/{id})"
    )
    selector: dict[str, Any]


class ErasureIn(BaseModel):
    """Erase exactly what a preview listed."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=128)


class ErasedItem(BaseModel):
    """An erased item: its id and its image's digest."""

    id: int
    sha256: str


class ErasureReceipt(BaseModel):
    """What an erasure removed, when and on whose request; kept, and readable at GET /erasures/{id}."""

    id: str
    erased_at: datetime
    erased_by: str = Field(description="the name of the API key that asked, or 'anonymous'")
    count: int
    items: list[ErasedItem]
    digest: str
    selector: dict[str, Any]
    fleet_site: str | None = Field(
        default=None, description="the site whose fleet rows are deleted through the outbox, if any"
    )
